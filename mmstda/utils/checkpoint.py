"""Safe checkpoint loading for mmengine on PyTorch >= 2.6.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``. Since PyTorch
2.6 that defaults to ``True``, so resuming an mmengine checkpoint fails on
the ``HistoryBuffer`` and numpy objects its message hub stores. We keep
``weights_only=True`` (loading a checkpoint never executes code) and
allow-list exactly the few types an mmengine checkpoint holds, then route
mmengine's local-file loader through that.
"""

import os.path as osp
import pickle
from collections import Counter

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader


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


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds objects that ``weights_only=True`` refuses to build."""


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
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'Checkpoint file not found: {filename}')
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise UnsafeCheckpointError(
            f'Refusing to load checkpoint {filename}: it contains objects that are not '
            'plain tensors or containers, and loading them could execute code. Only '
            'tensors, numpy arrays and mmengine HistoryBuffers are accepted. '
            f'Refused: {_refused_object(err)}'
        ) from None


def load_from_local_weights_only(filename: str, map_location=None) -> dict:
    # mmengine logs ``name[10:]`` of the loader as the backend name.
    return load_checkpoint_file(filename, map_location)


def register_safe_loader() -> None:
    """Route mmengine's loader for local paths through :func:`load_checkpoint_file`."""
    CheckpointLoader.register_scheme(prefixes='', force=True)(load_from_local_weights_only)


register_safe_loader()
