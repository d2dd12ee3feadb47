"""F1 of temporal segment predictions, the SMG online-recognition scoring rule.

This is a pure function (no mmengine state) so scripts, baselines and tests can
score predictions directly; :class:`MicroGestureF1Metric` wraps it for runners.
"""

import math
import numbers
import warnings
from collections.abc import Mapping, Sequence

import torch

from mmstda.structures import segment_iou

MATCH_MODES = ('starter-kit', 'one-to-one')


def _counts_to_scores(tp: int, num_pred: int, num_gt: int) -> dict:
    """P/R/F1 from counts; every division by zero gives 0, never NaN."""
    precision = tp / num_pred if num_pred > 0 else 0.0
    recall = tp / num_gt if num_gt > 0 else 0.0
    denom = precision + recall
    f1 = 2 * precision * recall / denom if denom > 0 else 0.0
    return dict(precision=precision, recall=recall, f1=f1, tp=tp, num_pred=num_pred, num_gt=num_gt)


def _check_number(value, what: str) -> float:
    # bool is an int subclass; a True label or frame is always a caller bug.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f'{what} must be a real number, got {value!r} ({type(value).__name__})')
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f'{what} must be finite, got {value}')
    return value


def _check_label(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f'{what} must be an integer label, got {value!r} ({type(value).__name__})')
    return int(value)


def _parse_entries(
    per_video: Mapping, arity: int, name: str, fields: str
) -> dict[str, tuple[list, torch.Tensor, list]]:
    """Validate ``{video_id: [tuple, ...]}`` into labels, float64 segments and scores."""
    if not isinstance(per_video, Mapping):
        raise TypeError(
            f'{name} must be a dict {{video_id: [{fields}, ...]}}, got {type(per_video).__name__}'
        )
    parsed = {}
    for video_id, entries in per_video.items():
        if isinstance(entries, (str, bytes)) or not isinstance(entries, Sequence):
            raise TypeError(
                f'{name}[{video_id!r}] must be a list of ({fields}) tuples, '
                f'got {type(entries).__name__}'
            )
        labels, bounds, scores = [], [], []
        for index, entry in enumerate(entries):
            where = f'{name}[{video_id!r}][{index}]'
            if isinstance(entry, (str, bytes)) or not isinstance(entry, Sequence):
                raise TypeError(f'{where} must be a ({fields}) tuple, got {entry!r}')
            if len(entry) != arity:
                raise ValueError(
                    f'{where} must have {arity} fields ({fields}), got {len(entry)}: {entry!r}'
                )
            label = _check_label(entry[0], f'{where} label')
            start_frame = _check_number(entry[1], f'{where} start_frame')
            end_frame = _check_number(entry[2], f'{where} end_frame')
            if end_frame < start_frame:
                raise ValueError(
                    f'{where} has end_frame {end_frame} before start_frame {start_frame}'
                )
            labels.append(label)
            bounds.append((start_frame, end_frame))
            if arity == 4:
                scores.append(_check_number(entry[3], f'{where} score'))
        # float64: at the strict "> 0.3" boundary a float32 IoU of exactly 3/10
        # rounds up above the Python float 0.3 and would wrongly count as a hit.
        segments = torch.tensor(bounds, dtype=torch.float64).reshape(-1, 2)
        parsed[video_id] = (labels, segments, scores)
    return parsed


def _match_starter_kit(candidates: torch.Tensor) -> torch.Tensor:
    """A GT is a hit if ANY prediction is a candidate for it.

    Predictions are not consumed, as in the start kit: one prediction can be
    credited to several GTs.
    """
    return candidates.any(dim=0)


def _match_one_to_one(
    candidates: torch.Tensor, ious: torch.Tensor, scores: list[float]
) -> torch.Tensor:
    """Greedy detection-style matching, highest score first, each GT used once."""
    hits = torch.zeros(candidates.shape[1], dtype=torch.bool)
    # A stable sort: equal scores keep their input order, so results are reproducible.
    order = torch.tensor(scores, dtype=torch.float64).argsort(descending=True, stable=True)
    for p in order.tolist():
        free = candidates[p] & ~hits
        if free.any():
            hits[ious[p].masked_fill(~free, -math.inf).argmax()] = True
    return hits


def segment_f1(
    predictions: Mapping[str, Sequence[tuple]],
    ground_truths: Mapping[str, Sequence[tuple]],
    iou_thr: float = 0.3,
    match: str = 'starter-kit',
) -> dict:
    """Micro-averaged F1 of micro-gesture segments over a set of videos.

    tIoU follows the SMG start kit: ``(min(ends) - max(starts)) / (max(ends) -
    min(starts))`` in native frames, with no ``+1``; it is negative for disjoint
    segments. A GT is a true positive when matched by a same-label prediction
    with tIoU strictly greater than ``iou_thr``.

    Match modes:

    - ``'starter-kit'``: exactly the start-kit rule. Each GT counts at most once,
      but a prediction is not removed once matched, so one prediction can be
      credited to several GTs. Scores are ignored. Because TP counts GTs, the
      precision ``TP / #predictions`` can exceed 1 in that corner case; it is
      reported as the start kit computes it, not clipped.
    - ``'one-to-one'``: predictions visited by descending score (ties in input
      order); each matches at most one still-unmatched GT with the same label,
      the one of highest tIoU above ``iou_thr``.

    Counts are summed over all videos before computing P = TP / #predictions,
    R = TP / #GT and F1 = 2PR / (P + R). Any division by zero gives 0. A video
    present only in ``ground_truths`` contributes its GTs as misses; a video
    present only in ``predictions`` contributes its predictions as false
    positives, with a warning naming it.

    Args:
        predictions (Mapping[str, Sequence[tuple]]): ``{video_id: [(label,
            start_frame, end_frame, score), ...]}`` with native frame indices.
        ground_truths (Mapping[str, Sequence[tuple]]): ``{video_id: [(label,
            start_frame, end_frame), ...]}`` with native frame indices. Labels
            just need to use the same convention as the predictions.
        iou_thr (float): tIoU a match must strictly exceed, in [0, 1).
            Defaults to 0.3.
        match (str): ``'starter-kit'`` or ``'one-to-one'``. Defaults to
            ``'starter-kit'``.

    Returns:
        dict: ``precision``, ``recall``, ``f1`` (floats), ``tp``, ``num_pred``,
        ``num_gt`` (ints), and ``per_class``: ``{label: dict with the same six
        keys}`` for every label seen in the predictions or the ground truths,
        in ascending label order.

    Raises:
        TypeError: If an argument or a field has the wrong type.
        ValueError: If ``match`` is unknown, a tuple has the wrong number of
            fields, or a value is not finite or ends before it starts. The
            message names the video and the index of the offending tuple.
    """
    if match not in MATCH_MODES:
        raise ValueError(f'match must be one of {MATCH_MODES}, got {match!r}')
    iou_thr = _check_number(iou_thr, 'iou_thr')
    # Below 0 disjoint segments would match (tIoU can be negative); at 1 or more
    # nothing can (a match needs tIoU > iou_thr).
    if not 0 <= iou_thr < 1:
        raise ValueError(f'iou_thr must be in [0, 1), got {iou_thr}')
    preds = _parse_entries(predictions, 4, 'predictions', 'label, start_frame, end_frame, score')
    gts = _parse_entries(ground_truths, 3, 'ground_truths', 'label, start_frame, end_frame')

    unknown = sorted(str(v) for v in preds if v not in gts and len(preds[v][0]) > 0)
    if unknown:
        warnings.warn(
            f'predictions for {len(unknown)} video(s) without ground truth are counted '
            f'as false positives: {", ".join(unknown)}',
            UserWarning,
            stacklevel=2,
        )

    tp_per_class: dict[int, int] = {}
    pred_per_class: dict[int, int] = {}
    gt_per_class: dict[int, int] = {}
    for video_id in list(gts) + [v for v in preds if v not in gts]:
        pred_labels, pred_segments, scores = preds.get(video_id, ([], None, []))
        gt_labels, gt_segments, _ = gts.get(video_id, ([], None, []))
        for label in pred_labels:
            pred_per_class[label] = pred_per_class.get(label, 0) + 1
        for label in gt_labels:
            gt_per_class[label] = gt_per_class.get(label, 0) + 1
        if not pred_labels or not gt_labels:
            continue
        ious = segment_iou(pred_segments, gt_segments)
        same_label = torch.tensor(pred_labels)[:, None] == torch.tensor(gt_labels)[None, :]
        candidates = same_label & (ious > iou_thr)
        if match == 'starter-kit':
            hits = _match_starter_kit(candidates)
        else:
            hits = _match_one_to_one(candidates, ious, scores)
        for label, hit in zip(gt_labels, hits.tolist()):
            if hit:
                tp_per_class[label] = tp_per_class.get(label, 0) + 1

    per_class = {
        label: _counts_to_scores(
            tp_per_class.get(label, 0), pred_per_class.get(label, 0), gt_per_class.get(label, 0)
        )
        for label in sorted(set(pred_per_class) | set(gt_per_class))
    }
    result = _counts_to_scores(
        sum(tp_per_class.values()), sum(pred_per_class.values()), sum(gt_per_class.values())
    )
    result['per_class'] = per_class
    return result
