"""Shared start-up of the tools (``tools/train.py``, ``tools/test.py`` and the others).

It turns the mistakes users make most (a wrong config path, a misspelt
component ``type``) into one clear line instead of a traceback from deep
inside mmengine, and makes CPU-only distributed runs work on mmengine 0.10.7.
"""

import argparse
import contextlib
import difflib
import inspect
import logging
import os
import os.path as osp
import sys
from collections.abc import Iterator

import torch
import torch.distributed as torch_dist
from mmengine.config import Config, DictAction
from mmengine.registry import Registry

from mmstda.utils.errors import UserInputError


def load_config(path: str, cfg_options: dict | None = None) -> Config:
    """Read a config file, apply ``--cfg-options`` and check every component type.

    Raises:
        UserInputError: The file does not exist, or a ``type=`` names a
            component that no registry knows.
    """
    if not osp.isfile(path):
        raise UserInputError(f'Config file not found: {path}')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    check_component_types(cfg, source=path)
    check_dataset_arguments(cfg, source=path)
    return cfg


def _all_registries() -> list[Registry]:
    import mmaction.registry
    import mmengine.registry

    found = {}
    for module in (mmaction.registry, mmengine.registry):
        for value in vars(module).values():
            if isinstance(value, Registry):
                found[id(value)] = value
    return list(found.values())


def _iter_types(node, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        if isinstance(node.get('type'), str):
            yield path, node['type']
        for key, value in node.items():
            yield from _iter_types(value, f'{path}.{key}' if path else str(key))
    elif isinstance(node, list | tuple):
        for index, value in enumerate(node):
            yield from _iter_types(value, f'{path}[{index}]')


def _is_registered(name: str, registries: list[Registry]) -> bool:
    for registry in registries:
        try:
            if registry.get(name) is not None:
                return True
        except Exception:  # a scope whose package cannot be imported
            continue
    return False


def check_component_types(cfg: Config, source: str = 'config') -> None:
    """Fail early, naming the field, when a ``type=`` is not registered anywhere."""
    registries = _all_registries()
    known = sorted({name for registry in registries for name in registry.module_dict})
    for field, name in _iter_types(cfg.to_dict(), ''):
        if _is_registered(name, registries):
            continue
        close = difflib.get_close_matches(name.split('.')[-1], known, n=3)
        hint = f' Did you mean {", ".join(repr(c) for c in close)}?' if close else ''
        scope = name.split('.')[0] if '.' in name else None
        if scope:
            hint += f' (Is the package providing scope {scope!r} installed?)'
        raise UserInputError(
            f'{source}: {field}.type={name!r} is not a registered component.{hint} '
            "Custom components need custom_imports=dict(imports=['mmstda'])."
        )


def _accepted_arguments(cls: type) -> set[str] | None:
    """Keyword arguments ``cls(...)`` accepts; None when ``**kwargs`` goes to an unknown place.

    A constructor with ``**kwargs`` is taken to pass them on to the next class of
    the MRO (as mmengine datasets do), up to one without ``**kwargs``.
    """
    names: set[str] = set()
    for klass in cls.__mro__:
        if '__init__' not in vars(klass) or klass is object:
            continue
        parameters = inspect.signature(klass.__init__).parameters.values()
        names |= {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if not any(p.kind == p.VAR_KEYWORD for p in parameters):
            return names - {'self'}
    return None


def _iter_dataset_cfgs(node, path: str) -> Iterator[tuple[str, dict]]:
    # Wrappers (RepeatDataset, ConcatDataset, ...) hold ``dataset`` or ``datasets``.
    if not isinstance(node, dict):
        return
    yield path, node
    if isinstance(node.get('dataset'), dict):
        yield from _iter_dataset_cfgs(node['dataset'], f'{path}.dataset')
    for index, child in enumerate(node.get('datasets') or []):
        yield from _iter_dataset_cfgs(child, f'{path}.datasets[{index}]')


def _check_arguments(node: dict, field: str, registry, source: str) -> None:
    """Raise, naming ``field.key``, when ``node`` holds a key its ``type`` does not take."""
    name = node.get('type')
    try:
        cls = registry.get(name) if isinstance(name, str) else name
    except Exception:  # a scope whose package cannot be imported
        cls = None
    accepted = _accepted_arguments(cls) if inspect.isclass(cls) else None
    if accepted is None:
        return
    for key in node:
        # ``_scope_`` is read by mmengine's registry, not by the class.
        if key in ('type', '_scope_') or key in accepted:
            continue
        close = difflib.get_close_matches(key, sorted(accepted), n=3)
        hint = (
            f'Did you mean {", ".join(repr(c) for c in close)}?'
            if close
            else f'Expected one of {sorted(accepted)}.'
        )
        raise UserInputError(
            f'{source}: {field}.{key} is not an argument of {cls.__name__}. {hint}'
        )


def check_dataset_arguments(cfg: Config, source: str = 'config') -> None:
    """Fail early, naming the key, when a dataset or pipeline step has an argument its class lacks.

    Otherwise a misspelt argument (``windw_frames``) surfaces as a ``TypeError``
    traceback from deep inside the dataloader construction.
    """
    from mmaction.registry import DATASETS, TRANSFORMS

    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if not isinstance(loader, dict):
            continue
        for field, dataset in _iter_dataset_cfgs(
            loader.get('dataset'), f'{split}_dataloader.dataset'
        ):
            _check_arguments(dataset, field, DATASETS, source)
            for index, step in enumerate(dataset.get('pipeline') or []):
                if isinstance(step, dict):
                    _check_arguments(step, f'{field}.pipeline[{index}]', TRANSFORMS, source)


def recorded_checkpoint(work_dir: str) -> str | None:
    """The checkpoint named by ``work_dir/last_checkpoint`` (mmengine's record), or None.

    Raises:
        UserInputError: The record names a file that does not exist.
    """
    record = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(record):
        return None
    with open(record) as f:
        path = f.read().strip()
    if not osp.isfile(path):
        raise UserInputError(f'Checkpoint file not found: {path} (recorded in {record})')
    return path


def require_checkpoint_to_resume(work_dir: str) -> None:
    """Refuse ``--resume`` (without a path) when ``work_dir`` holds nothing to resume.

    mmengine would log a warning and silently train from scratch.
    """
    if recorded_checkpoint(work_dir) is None:
        raise UserInputError(
            f'--resume: nothing to resume in {work_dir} (no last_checkpoint record, so no '
            'checkpoint was saved there); drop --resume to train from scratch, or give '
            '--resume CHECKPOINT'
        )


def setup_cpu_distributed(cfg: Config, launcher: str) -> None:
    """Make ``--launcher pytorch`` train on CPU processes (gloo) with mmengine 0.10.7.

    mmengine's ``init_dist`` calls ``torch.cuda.set_device`` unconditionally and
    its DDP wrapper passes ``device_ids=[LOCAL_RANK]``, which DDP rejects for
    CPU modules. mmengine skips ``init_dist`` when a process group exists, so we
    create the gloo group first and wrap the model with ``device_ids=None``.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher != 'pytorch':
        raise UserInputError(
            f'--launcher {launcher} needs GPUs; on CPU use --launcher pytorch (torchrun).'
        )
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']),
        )
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    if wrapper.get('type', 'MMDistributedDataParallel') == 'MMDistributedDataParallel':
        wrapper.update(type='MMDistributedDataParallel', device_ids=None)
        # What mmengine's own wrapper would pass, were it used.
        wrapper.setdefault('broadcast_buffers', False)
        wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
        cfg.model_wrapper_cfg = wrapper


def one_line(err: BaseException) -> str:
    """The message of ``err`` as one line.

    An error raised in a dataloader worker reaches the main process with the
    worker's traceback in its message; the original message is its last line.
    """
    text = str(err).strip()
    if 'Original Traceback' in text:
        last = text.splitlines()[-1]
        prefix = f'{type(err).__name__}: '
        text = last[last.index(prefix) + len(prefix) :] if prefix in last else last
    return ' '.join(text.split())


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Print user-input errors as one line and exit with status 2."""
    try:
        yield
    except (UserInputError, FileNotFoundError) as err:
        print(f'error: {one_line(err)}', file=sys.stderr)
        sys.exit(2)
    except KeyError as err:
        # The registries raise KeyError("X is not in the <scope>::<name> registry").
        message = str(err.args[0]) if err.args else ''
        if 'registry' not in message:
            raise
        print(f'error: {message}', file=sys.stderr)
        sys.exit(2)


def log_every_rank(runner) -> None:
    """Give each rank other than 0 its own log file beside rank 0's.

    mmengine's MMLogger can do this (``distributed=True``) but the Runner does
    not expose that option, so without this only rank 0's log is kept.
    """
    from mmengine.dist import get_dist_info
    from mmengine.logging.logger import MMFormatter

    rank, world_size = get_dist_info()
    if world_size < 2 or rank == 0:
        return
    handler = logging.FileHandler(osp.join(runner.log_dir, f'{runner.timestamp}_rank{rank}.log'))
    handler.setFormatter(MMFormatter(color=False, datefmt='%Y/%m/%d %H:%M:%S'))
    handler.setLevel(runner.logger.level or logging.INFO)
    runner.logger.addHandler(handler)


def build_runner(cfg: Config, launcher: str):
    """The Runner for a loaded config, with CPU distributed set up and per-rank logs.

    A config with ``runner_type`` (e.g. ``'FlexibleRunner'`` for FSDP) gets that
    runner; every other config gets mmengine's ``Runner``.
    """
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    setup_cpu_distributed(cfg, launcher)
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    log_every_rank(runner)
    return runner


def parse_runner_args(parser: argparse.ArgumentParser, example: str) -> argparse.Namespace:
    """Add the options every tool shares (``--cfg-options``, ``--launcher``) and parse.

    Args:
        parser (argparse.ArgumentParser): The tool's parser with its own options.
        example (str): A ``--cfg-options`` example for the help text.
    """
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help=f'override config settings, e.g. {example}',
    )
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def apply_runner_args(cfg: Config, args: argparse.Namespace) -> None:
    """Set the launcher and the work dir (``--work-dir``, else work_dirs/CONFIG_NAME)."""
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
