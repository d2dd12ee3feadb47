"""How many CPU threads torch uses, taken from the config, not from the shell."""

import os

import torch
from mmengine.config import Config


def set_cpu_threads(cfg: Config) -> int | None:
    """Set torch's intra-op thread count from the config key ``cpu_threads``.

    Without the key, a CPU run whose shell leaves ``OMP_NUM_THREADS`` unset uses
    one thread: torch would otherwise take every core, and on a small or shared
    machine the threads of the model and of the data loader workers then fight
    for the same cores (the demo ran 5x slower that way on a busy 2-core
    machine). ``OMP_NUM_THREADS`` and GPU runs are left as they are.

    Args:
        cfg (Config): The run's config; ``cpu_threads`` (int, optional) is read
            from its top level.

    Returns:
        int | None: The thread count set, or None when nothing was changed.

    Raises:
        ValueError: ``cpu_threads`` is not a positive integer.
    """
    threads = cfg.get('cpu_threads')
    if threads is None:
        if torch.cuda.is_available() or 'OMP_NUM_THREADS' in os.environ:
            return None
        threads = 1
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f'config key cpu_threads must be a positive integer, got {threads!r}')
    torch.set_num_threads(threads)
    return threads
