"""Safe and strict checkpoint loading.

Safe: mmengine 0.10.7 calls ``torch.load`` without ``weights_only``. Since
PyTorch 2.6 that defaults to ``True``, so resuming an mmengine checkpoint fails
on the ``HistoryBuffer`` and numpy objects its message hub stores. We keep
``weights_only=True`` (loading a checkpoint never executes code) and
allow-list exactly the few types an mmengine checkpoint holds, then route
mmengine's local-file loader through that. A file that is not a readable
checkpoint (empty, truncated, text) fails with one line naming it.

Strict: mmengine loads weights with ``strict=False`` and only logs a mismatch,
so evaluating a checkpoint of another model silently runs on random weights.
:func:`check_state_dict_matches` refuses that; evaluation and online inference
call it through :func:`load_model_weights` or :func:`require_matching_checkpoint`.
"""

import fnmatch
import os.path as osp
import pickle
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer, print_log
from mmengine.model import is_model_wrapper
from mmengine.runner.checkpoint import CheckpointLoader

from .errors import UserInputError


def _numpy_safe_globals() -> list:
    scalar_types = [
        np.bool_,
        np.int8,
        np.int16,
        np.int32,
        np.int64,
        np.uint8,
        np.uint16,
        np.uint32,
        np.uint64,
        np.float16,
        np.float32,
        np.float64,
    ]
    # numpy pickles arrays through ``_reconstruct`` and scalars through
    # ``scalar``; both only rebuild data, they do not call user code.
    multiarray = np._core.multiarray if hasattr(np, '_core') else np.core.multiarray
    dtype_classes = [type(np.dtype(t)) for t in scalar_types]
    return [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype, *dtype_classes]


_HISTORY_STATISTICS = ('min', 'max', 'current', 'mean')


def _history_buffer_getattr(owner, name: str):
    """``getattr`` restricted to HistoryBuffer's statistics methods.

    A HistoryBuffer pickles its ``_statistics_methods`` as
    ``getattr(HistoryBuffer, 'mean')`` and the like. Allowing the builtin
    ``getattr`` would let a checkpoint reach arbitrary attributes; this one
    only resolves those methods.
    """
    if isinstance(owner, type) and issubclass(owner, HistoryBuffer):
        if name in _HISTORY_STATISTICS or name in HistoryBuffer._statistics_methods:
            return getattr(owner, name)
    owner_name = getattr(owner, '__name__', type(owner).__name__)
    raise pickle.UnpicklingError(f'getattr({owner_name}, {name!r}) is not allowed')


SAFE_GLOBALS = [
    HistoryBuffer,
    Counter,  # MultiStepLR stores its milestones as a Counter
    (_history_buffer_getattr, 'builtins.getattr'),
    *_numpy_safe_globals(),
]


class UnsafeCheckpointError(pickle.UnpicklingError, UserInputError):
    """A checkpoint holds objects that ``weights_only=True`` refuses to build."""


class CheckpointError(UserInputError):
    """A checkpoint file that is unreadable or does not fit the model."""


# How many key names an error message shows.
_SHOWN_KEYS = 3


def _refused_object(err: Exception) -> str:
    # PyTorch's message wraps the informative line (which global or call was
    # refused) in generic advice, including advice to disable weights_only.
    generic = ('Weights only load failed', 'Please file an issue', 'Check the documentation')
    lines = [line.strip() for line in str(err).splitlines()]
    detail = [line for line in lines if line and not line.startswith(generic)]
    return detail[0] if detail else lines[0]


def load_checkpoint_file(filename: str, map_location=None) -> dict:
    """Load a local checkpoint with ``weights_only=True`` and mmengine's allow-list.

    Args:
        filename (str): Path of the checkpoint file.
        map_location: Same as :func:`torch.load`. Defaults to None.

    Raises:
        FileNotFoundError: The file does not exist.
        UnsafeCheckpointError: The file holds an object that is neither a
            tensor nor one of the allow-listed mmengine/numpy types, e.g. a
            pickled callable. It is refused instead of executed.
        CheckpointError: The file is empty, truncated or not a PyTorch file.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'Checkpoint file not found: {filename}')
    if osp.getsize(filename) == 0:
        raise CheckpointError(f'{filename}: the checkpoint file is empty (0 bytes)')
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if 'Weights only load failed' not in str(err):
            raise _unreadable(filename, err) from None
        raise UnsafeCheckpointError(
            f'Refusing to load checkpoint {filename}: it contains objects that are not '
            'plain tensors or containers, and loading them could execute code. Only '
            'tensors, numpy arrays and mmengine HistoryBuffers are accepted. '
            f'Refused: {_refused_object(err)}'
        ) from None
    # What torch raises on a damaged or foreign file: RuntimeError from the zip
    # reader, EOFError or KeyError from the legacy unpickler, ValueError, ...
    except (RuntimeError, EOFError, KeyError, ValueError, IndexError, OSError) as err:
        raise _unreadable(filename, err) from None


def _unreadable(filename: str, err: Exception) -> CheckpointError:
    text = str(err).strip()
    # The first sentence: torch appends paragraphs of generic advice.
    reason = text.splitlines()[0].split('. ')[0] if text else 'no detail'
    return CheckpointError(
        f'{filename}: not a readable PyTorch checkpoint ({type(err).__name__}: '
        f'{reason}); it may be truncated (an interrupted save or download) or not '
        'a checkpoint at all'
    )


def checkpoint_state_dict(checkpoint, filename: str) -> dict:
    """The weights of a loaded checkpoint, without a DDP ``module.`` prefix.

    mmengine checkpoints keep them under ``state_dict``; a bare state dict (only
    tensors) is accepted too.

    Raises:
        CheckpointError: Neither form.
    """
    state_dict = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state_dict, dict) or not all(
        isinstance(v, torch.Tensor) for v in state_dict.values()
    ):
        raise CheckpointError(
            f'{filename}: expected a checkpoint with a "state_dict" of tensors (as mmengine '
            f'saves) or a bare state dict, got {type(checkpoint).__name__} with keys '
            f'{_first(list(checkpoint) if isinstance(checkpoint, dict) else [])}'
        )
    # The prefix mmengine's own loader strips too (``revise_keys``).
    return {re.sub(r'^module\.', '', key): value for key, value in state_dict.items()}


def _first(keys: Sequence[str]) -> str:
    shown = ', '.join(keys[:_SHOWN_KEYS])
    return f'[{shown}{", ..." if len(keys) > _SHOWN_KEYS else ""}]'


def check_state_dict_matches(
    model: torch.nn.Module,
    state_dict: dict,
    filename: str,
    allow_missing: Sequence[str] = (),
) -> list[str]:
    """Refuse weights that do not cover ``model`` exactly.

    Args:
        model (torch.nn.Module): The model the weights are for.
        state_dict (dict): Key -> tensor, as :func:`checkpoint_state_dict` returns.
        filename (str): Shown in the error.
        allow_missing (Sequence[str]): ``fnmatch`` patterns of model keys that may
            be absent (they keep their initial values), e.g.
            ``('backbone.blocks.*.adapter.*',)`` for a trunk saved without adapters.
            Defaults to () (every key must be there).

    Returns:
        list[str]: The model keys absent from the checkpoint that ``allow_missing``
        let through.

    Raises:
        CheckpointError: A model key is missing (and not allowed to be), the
            checkpoint holds a key the model does not have, or a shape differs.
    """
    expected = model.state_dict()
    absent = [key for key in expected if key not in state_dict]
    skipped = [k for k in absent if any(fnmatch.fnmatchcase(k, p) for p in allow_missing)]
    missing = [key for key in absent if key not in skipped]
    unexpected = [key for key in state_dict if key not in expected]
    mismatched = [
        f'{key} {tuple(state_dict[key].shape)} vs {tuple(value.shape)}'
        for key, value in expected.items()
        if key in state_dict and state_dict[key].shape != value.shape
    ]
    problems = []
    if missing:
        problems.append(f'{len(missing)} model keys missing from it {_first(missing)}')
    if unexpected:
        problems.append(f'{len(unexpected)} keys the model does not have {_first(unexpected)}')
    if mismatched:
        problems.append(f'{len(mismatched)} shapes differ (file vs model) {_first(mismatched)}')
    if problems:
        raise CheckpointError(
            f'{filename} does not match the model: {"; ".join(problems)}. It was saved '
            'from another model or config; pass a checkpoint of this config'
        )
    return skipped


def load_model_weights(
    model: torch.nn.Module,
    filename: str,
    allow_missing: Sequence[str] = (),
    map_location='cpu',
) -> dict:
    """Load a checkpoint's weights into ``model``, refusing one of another model.

    Args:
        model (torch.nn.Module): Model to load into (a DDP wrapper is unwrapped).
        filename (str): Local checkpoint file.
        allow_missing (Sequence[str]): Model keys that may be absent, as in
            :func:`check_state_dict_matches`; what they let through is logged.
            Defaults to ().
        map_location: Same as :func:`torch.load`. Defaults to ``'cpu'``.

    Returns:
        dict: The loaded checkpoint.

    Raises:
        CheckpointError: Unreadable, or its keys or shapes do not match the model.
    """
    if is_model_wrapper(model):
        model = model.module
    checkpoint = load_checkpoint_file(filename, map_location)
    state_dict = checkpoint_state_dict(checkpoint, filename)
    skipped = check_state_dict_matches(model, state_dict, filename, allow_missing)
    model.load_state_dict(state_dict, strict=False)
    if skipped:
        print_log(
            f'{filename}: {len(skipped)} model keys are not in the checkpoint and keep their '
            f'initial values (allowed by {list(allow_missing)}): {_first(skipped)}',
            logger='current',
        )
    return checkpoint


class _MatchingCheckpointHook(Hook):
    # mmengine calls after_load_checkpoint between reading the file and loading
    # it (non-strictly) into the model, so a mismatch stops the run before.
    priority = 'VERY_HIGH'

    def __init__(self, filename: str) -> None:
        self.filename = filename

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        check_state_dict_matches(
            model, checkpoint_state_dict(checkpoint, self.filename), self.filename
        )


def require_matching_checkpoint(runner, filename: str) -> None:
    """Make ``runner`` refuse a ``load_from`` checkpoint that does not match its model.

    For evaluation: mmengine's Runner loads ``load_from`` with ``strict=False``.

    Args:
        runner: An mmengine Runner (or FlexibleRunner) that will load ``filename``.
        filename (str): Shown in the error.
    """
    runner.register_hook(_MatchingCheckpointHook(filename))


def load_from_local_weights_only(filename: str, map_location=None) -> dict:
    # mmengine logs ``name[10:]`` of the loader as the backend name.
    return load_checkpoint_file(filename, map_location)


def register_safe_loader() -> None:
    """Route mmengine's loader for local paths through :func:`load_checkpoint_file`."""
    CheckpointLoader.register_scheme(prefixes='', force=True)(load_from_local_weights_only)


register_safe_loader()
