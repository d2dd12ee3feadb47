"""The operating point: the segment score threshold chosen once, on validation.

Training stores it in every checkpoint as ``checkpoint['meta']['operating_point']``
(see :class:`mmstda.engine.hooks.OperatingPointHook`); ``tools/test.py``,
``tools/online_infer.py`` and :func:`mmstda.apis.init_online_recognizer` read it
back so that every tool keeps the same segments.
"""

import argparse
import warnings
from typing import Any

from .checkpoint import load_checkpoint_file

OPERATING_POINT_KEYS = {'score_thr': float, 'val_f1': float, 'epoch': int, 'metric': str}
# Written since the operating point follows the validated weights; older checkpoints
# lack it.
OPTIONAL_KEYS = {'iter': int}


def make_operating_point(
    score_thr: float, val_f1: float, epoch: int, metric: str, iteration: int | None = None
) -> dict:
    """An operating point of plain Python values, so ``weights_only`` loading accepts it.

    Args:
        score_thr (float): The threshold chosen on validation (for ``OnlineTADHead``
            the run-opening threshold; for other heads the kept-score threshold).
        val_f1 (float): Validation F1 at ``score_thr``.
        epoch (int): Epochs trained when the validation ran.
        metric (str): The validation key ``val_f1`` was read from, e.g.
            ``'mg/best_f1'``.
        iteration (int, optional): Training iterations done when the validation
            ran; the checkpoint's ``meta['iter']`` equals it when the checkpoint
            holds the validated weights. Defaults to None.

    Returns:
        dict: ``dict(score_thr=float, val_f1=float, epoch=int, metric=str)``, plus
        ``iter=int`` when given.
    """
    point = dict(
        score_thr=float(score_thr), val_f1=float(val_f1), epoch=int(epoch), metric=str(metric)
    )
    if iteration is not None:
        point['iter'] = int(iteration)
    return point


def check_operating_point(point: Any, source: str) -> dict:
    """Validate an operating point read from ``source``; raise naming the bad field."""
    if not isinstance(point, dict):
        raise ValueError(
            f'{source}: meta.operating_point must be a dict, got {type(point).__name__}'
        )
    optional = {key: kind for key, kind in OPTIONAL_KEYS.items() if key in point}
    for key, kind in {**OPERATING_POINT_KEYS, **optional}.items():
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


def _read_point_and_meta(path: str) -> tuple[dict | None, dict]:
    checkpoint = load_checkpoint_file(path, map_location='cpu')
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    if not isinstance(meta, dict) or meta.get('operating_point') is None:
        return None, meta if isinstance(meta, dict) else {}
    return check_operating_point(meta['operating_point'], path), meta


def read_operating_point(path: str) -> dict | None:
    """The operating point stored in a checkpoint, None when it has none.

    The checkpoint is loaded with ``weights_only=True`` (nothing in it is executed).

    Args:
        path (str): Checkpoint file.

    Returns:
        dict | None: ``dict(score_thr, val_f1, epoch, metric)`` (and ``iter``) or
        None (a checkpoint saved without validation, or by another project).
    """
    return _read_point_and_meta(path)[0]


def from_other_weights(point: dict, meta: dict) -> bool:
    """Whether ``point`` was chosen on other weights than the checkpoint ``meta`` holds.

    A periodic checkpoint is saved before its epoch's validation, so it carries
    the previous validation's threshold; the best checkpoint is saved after its
    validation and carries its own.
    """
    if 'iter' in point and meta.get('iter') is not None:
        return int(meta['iter']) != point['iter']
    if meta.get('epoch') is not None:
        return int(meta['epoch']) != point['epoch']
    return False


def resolve_score_thr(override: float | None, checkpoint: str | None) -> tuple[float | None, str]:
    """The score threshold a tool runs at, and where it came from (for the log).

    Precedence: an explicit ``override`` (``--score-thr``), then the checkpoint's
    operating point, then None (the config's own thresholds stay). A checkpoint
    whose operating point was chosen on other weights (see
    :func:`from_other_weights`) gets a warning.

    Args:
        override (float, optional): The user's threshold.
        checkpoint (str, optional): Checkpoint to read the operating point from.

    Returns:
        tuple[float | None, str]: The threshold (None: keep the config's) and a
        short description of its source.
    """
    if override is not None:
        if not 0.0 <= override <= 1.0:
            raise ValueError(f'--score-thr must be in [0, 1], got {override}')
        return float(override), 'given by --score-thr'
    point, meta = _read_point_and_meta(checkpoint) if checkpoint else (None, {})
    if point is None:
        where = f'{checkpoint} stores no operating point' if checkpoint else 'no checkpoint given'
        return None, f"{where}; the config's thresholds are kept"
    source = (
        f'the operating point in {checkpoint} (chosen on validation at epoch '
        f'{point["epoch"]}, val F1 {point["val_f1"]:.4f})'
    )
    if from_other_weights(point, meta):
        message = (
            f'{checkpoint} holds the weights of epoch {meta.get("epoch")} (iter '
            f'{meta.get("iter")}) but its operating point was chosen on the weights of epoch '
            f'{point["epoch"]}: test the best checkpoint (best_*.pth), or pass --score-thr'
        )
        warnings.warn(message, UserWarning, stacklevel=2)
        source += f'; WARNING: {message}'
    return point['score_thr'], source


def apply_score_thr(model_cfg: dict, score_thr: float) -> bool:
    """Set the operating point as the run-opening threshold of an ``OnlineTADHead``.

    That head's segment scores are never below its run-opening threshold, so a
    filter on segment scores alone would change nothing (see
    ``OnlineTADHead.set_score_thr``); other heads are thresholded by the metric.

    Args:
        model_cfg (dict): The config's ``model`` (modified in place).
        score_thr (float): The operating point.

    Returns:
        bool: Whether the head's threshold was set.
    """
    head = model_cfg.get('head') if isinstance(model_cfg, dict) else None
    if not isinstance(head, dict) or str(head.get('type', '')).split('.')[-1] != 'OnlineTADHead':
        return False
    head['test_cfg'] = {**(head.get('test_cfg') or {}), 'score_thr': float(score_thr)}
    test_cfg = model_cfg.get('test_cfg')
    if isinstance(test_cfg, dict) and 'score_thr' in test_cfg:
        # OnlineMGDetector's test_cfg overrides the head's.
        model_cfg['test_cfg'] = {**test_cfg, 'score_thr': float(score_thr)}
    return True


def add_score_thr_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--score-thr`` option every tool shares (default: the operating point)."""
    parser.add_argument(
        '--score-thr',
        type=float,
        default=None,
        help='keep segments scoring at least this; defaults to the operating point stored '
        'in the checkpoint (chosen on validation)',
    )
