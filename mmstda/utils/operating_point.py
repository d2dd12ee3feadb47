"""The operating point: the segment score threshold chosen once, on validation.

Training stores it in every checkpoint as ``checkpoint['meta']['operating_point']``
(see :class:`mmstda.engine.hooks.OperatingPointHook`); ``tools/test.py``,
``tools/online_infer.py`` and :func:`mmstda.apis.init_online_recognizer` read it
back so that every tool keeps the same segments.
"""

import argparse
from typing import Any

from .checkpoint import load_checkpoint_file

OPERATING_POINT_KEYS = {'score_thr': float, 'val_f1': float, 'epoch': int, 'metric': str}


def make_operating_point(score_thr: float, val_f1: float, epoch: int, metric: str) -> dict:
    """An operating point of plain Python values, so ``weights_only`` loading accepts it.

    Args:
        score_thr (float): Segments scoring at least this are kept.
        val_f1 (float): Validation F1 at ``score_thr``.
        epoch (int): Epoch whose validation chose it.
        metric (str): Metric that ranked the epochs, e.g. ``'mg/f1'``.

    Returns:
        dict: ``dict(score_thr=float, val_f1=float, epoch=int, metric=str)``.
    """
    return dict(
        score_thr=float(score_thr), val_f1=float(val_f1), epoch=int(epoch), metric=str(metric)
    )


def check_operating_point(point: Any, source: str) -> dict:
    """Validate an operating point read from ``source``; raise naming the bad field."""
    if not isinstance(point, dict):
        raise ValueError(
            f'{source}: meta.operating_point must be a dict, got {type(point).__name__}'
        )
    for key, kind in OPERATING_POINT_KEYS.items():
        value = point.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ValueError(
                f'{source}: meta.operating_point.{key} must be a {kind.__name__}, got {value!r}'
            )
    if not 0.0 <= point['score_thr'] <= 1.0:
        raise ValueError(
            f'{source}: meta.operating_point.score_thr must be in [0, 1], got {point["score_thr"]}'
        )
    return dict(point)


def read_operating_point(path: str) -> dict | None:
    """The operating point stored in a checkpoint, None when it has none.

    The checkpoint is loaded with ``weights_only=True`` (nothing in it is executed).

    Args:
        path (str): Checkpoint file.

    Returns:
        dict | None: ``dict(score_thr, val_f1, epoch, metric)`` or None (a
        checkpoint saved without validation, or by another project).
    """
    checkpoint = load_checkpoint_file(path, map_location='cpu')
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    if not isinstance(meta, dict) or meta.get('operating_point') is None:
        return None
    return check_operating_point(meta['operating_point'], path)


def resolve_score_thr(
    override: float | None, checkpoint: str | None, default: float = 0.0
) -> tuple[float, str]:
    """The score threshold a tool runs at, and where it came from (for the log).

    Precedence: an explicit ``override`` (``--score-thr``), then the checkpoint's
    operating point, then ``default``.

    Args:
        override (float, optional): The user's threshold.
        checkpoint (str, optional): Checkpoint to read the operating point from.
        default (float): Threshold without either. Defaults to 0.0 (keep all).

    Returns:
        tuple[float, str]: The threshold and a short description of its source.
    """
    if override is not None:
        if not 0.0 <= override <= 1.0:
            raise ValueError(f'--score-thr must be in [0, 1], got {override}')
        return float(override), 'given by --score-thr'
    point = read_operating_point(checkpoint) if checkpoint else None
    if point is not None:
        return point['score_thr'], (
            f'the operating point in {checkpoint} (chosen on validation at epoch '
            f'{point["epoch"]}, val F1 {point["val_f1"]:.4f})'
        )
    return float(default), (
        f'default {default}: {checkpoint or "no checkpoint"} stores no operating point'
    )


def add_score_thr_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--score-thr`` option every tool shares (default: the operating point)."""
    parser.add_argument(
        '--score-thr',
        type=float,
        default=None,
        help='keep segments scoring at least this; defaults to the operating point stored '
        'in the checkpoint (chosen on validation)',
    )
