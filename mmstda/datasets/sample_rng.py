"""Per-sample random streams: a sample's augmentation depends on (seed, epoch, index) only.

mmengine seeds each dataloader worker once (``seed + rank * num_workers +
worker_id``), so what a sample draws depends on which worker got it and on what
that worker drew before. A resumed run restarts the workers, so it draws other
numbers than the run it continues. Here the pipeline of each sample instead runs
with Python's, numpy's and torch's (CPU) global generators seeded from
``(seed, epoch, index)``, and the previous states are restored afterwards, so the
same sample is augmented the same way whichever process loads it and whatever
ran before: with any ``num_workers``, persistent or not, resumed or not.
"""

import contextlib
import random
from collections.abc import Iterator

import cv2
import numpy as np
import torch


class SharedSampleSeed:
    """The run's seed and current epoch, visible to dataloader workers.

    Both live in a ``torch`` tensor moved to shared memory when the dataset is
    built (in the main process, before any worker exists): forked workers share
    its pages, and with ``spawn`` torch's pickler passes it by handle. Persistent
    workers therefore see each new epoch set by the main process before the
    epoch's first index is sent. The third slot counts windows skipped because a
    frame did not decode (an unlocked sum: concurrent skips in two workers may
    count once).
    """

    _UNSET = -1

    def __init__(self) -> None:
        self._state = torch.full((3,), self._UNSET, dtype=torch.int64).share_memory_()
        self._state[2] = 0

    def set(self, seed: int, epoch: int) -> None:
        """Seed the following samples from ``seed`` and ``epoch``."""
        self._state[0] = int(seed) % 2**32
        self._state[1] = int(epoch)

    @property
    def is_set(self) -> bool:
        return int(self._state[0]) != self._UNSET

    @property
    def num_skipped(self) -> int:
        return int(self._state[2])

    def count_skip(self) -> int:
        """Count one skipped window; returns the count so far."""
        self._state[2] += 1
        return int(self._state[2])

    def entropy(self, index: int) -> list[int] | None:
        """Entropy for sample ``index`` in the current epoch, or None before :meth:`set`."""
        if not self.is_set:
            return None
        seed, epoch = (int(v) for v in self._state[:2])
        return [seed, epoch, int(index)]


@contextlib.contextmanager
def seeded_global_rngs(entropy: list[int] | None) -> Iterator[None]:
    """Run the body with the global generators seeded from ``entropy``, then restore them.

    Python's ``random``, numpy's global generator, torch's CPU generator and
    OpenCV's are seeded (OpenCV's state cannot be read back, so it is left
    seeded). With ``entropy`` None the body runs on the generators as they are.
    """
    if entropy is None:
        yield
        return
    python_seed, numpy_seed, torch_seed, cv2_seed = np.random.SeedSequence(entropy).generate_state(
        4
    )
    saved = random.getstate(), np.random.get_state(), torch.get_rng_state()
    random.seed(int(python_seed))
    np.random.seed(int(numpy_seed))
    # Only the CPU generator: torch.manual_seed would also reseed CUDA's, which
    # the training step in the main process draws from.
    torch.default_generator.manual_seed(int(torch_seed))
    cv2.setRNGSeed(int(cv2_seed) & 0x7FFFFFFF)
    try:
        yield
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
        torch.set_rng_state(saved[2])
