"""Operations on temporal segments in plain PyTorch (no ``mmcv.ops``).

Segments are ``(N, 2)`` tensors of ``[start_frame, end_frame]``.

Every NMS here (:func:`nms_1d`, :func:`batched_nms_1d`, Soft-NMS and the streaming
``SegmentDecoder``) visits segments in the order of :func:`nms_order`: higher score
first; among equal scores, earlier start, then earlier end (the shorter one), then
lower label. The order depends only on the segments themselves, so which segments are
kept does not depend on the order the candidates come in.
"""

import torch
from torch import Tensor


def segment_iou(segments_a: Tensor, segments_b: Tensor) -> Tensor:
    """Pairwise temporal IoU, shape ``(N, M)``.

    Uses the SMG start-kit convention: ``(min(end) - max(start)) /
    (max(end) - min(start))``, no ``+1``, and negative for disjoint segments.
    """
    start = torch.maximum(segments_a[:, None, 0], segments_b[None, :, 0])
    end = torch.minimum(segments_a[:, None, 1], segments_b[None, :, 1])
    hull_start = torch.minimum(segments_a[:, None, 0], segments_b[None, :, 0])
    hull_end = torch.maximum(segments_a[:, None, 1], segments_b[None, :, 1])
    hull = (hull_end - hull_start).clamp(min=torch.finfo(torch.float32).eps)
    return (end - start) / hull


def tie_break_order(segments: Tensor, labels: Tensor | None = None) -> Tensor:
    """Indices of ``segments`` by earlier start, then earlier end, then lower label.

    This is how :func:`nms_order` orders segments of equal score. Segments equal in
    start, end and label keep their input order (they are interchangeable).

    Args:
        segments (Tensor): ``(N, 2)`` segments.
        labels (Tensor, optional): ``(N,)`` class labels; None leaves them out.

    Returns:
        Tensor: ``(N,)`` long indices into ``segments``.
    """
    order = torch.arange(len(segments), device=segments.device)
    # Stable sorts from the least significant key to the most significant one.
    keys = [segments[:, 1], segments[:, 0]]
    if labels is not None:
        keys.insert(0, labels)
    for key in keys:
        order = order[key[order].sort(stable=True).indices]
    return order


def nms_order(segments: Tensor, scores: Tensor, labels: Tensor | None = None) -> Tensor:
    """The order NMS visits segments in: higher score first, ties by :func:`tie_break_order`.

    That is, by descending score, then ascending start, then ascending end (the
    shorter segment first), then ascending label. The order of the visited segments
    depends only on the set of ``(start, end, label, score)`` candidates, not on the
    order they are given in.

    Args:
        segments (Tensor): ``(N, 2)`` segments.
        scores (Tensor): ``(N,)`` scores.
        labels (Tensor, optional): ``(N,)`` class labels; None leaves them out.

    Returns:
        Tensor: ``(N,)`` long indices into the inputs, first visited first.
    """
    order = tie_break_order(segments, labels)
    return order[scores[order].sort(descending=True, stable=True).indices]


def _greedy_nms(segments: Tensor, order: Tensor, iou_thr: float) -> Tensor:
    """Greedy NMS visiting ``segments`` in ``order``; indices of the kept ones."""
    ious = segment_iou(segments[order].float(), segments[order].float())
    suppressed = torch.zeros(len(order), dtype=torch.bool, device=segments.device)
    keep = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= ious[i] > iou_thr
    return order[torch.tensor(keep, dtype=torch.long, device=segments.device)]


def nms_1d(
    segments: Tensor, scores: Tensor, iou_thr: float, labels: Tensor | None = None
) -> Tensor:
    """Greedy 1D NMS over all segments (any labels suppress each other).

    Segments are visited in :func:`nms_order`; a segment suppresses every later one
    whose tIoU with it exceeds ``iou_thr``.

    Args:
        segments (Tensor): ``(N, 2)`` segments.
        scores (Tensor): ``(N,)`` scores.
        iou_thr (float): tIoU above which the later segment is suppressed.
        labels (Tensor, optional): ``(N,)`` labels, used only to break ties between
            equal scores and spans (lower label first).

    Returns:
        Tensor: Indices of the kept segments into the inputs, in :func:`nms_order`
        (highest score first).
    """
    if segments.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=segments.device)
    return _greedy_nms(segments, nms_order(segments, scores, labels), iou_thr)


def batched_nms_1d(
    segments: Tensor,
    scores: Tensor,
    labels: Tensor,
    iou_thr: float,
    class_agnostic: bool = False,
) -> Tensor:
    """Class-aware 1D NMS: segments of different labels never suppress each other.

    Args:
        segments (Tensor): ``(N, 2)`` segments.
        scores (Tensor): ``(N,)`` scores.
        labels (Tensor): ``(N,)`` class labels.
        iou_thr (float): tIoU above which the later segment is suppressed.
        class_agnostic (bool): Let segments of different labels suppress each other
            too; labels then only break ties (see :func:`nms_order`). Defaults to False.

    Returns:
        Tensor: Indices of the kept segments into the inputs, in :func:`nms_order`
        (highest score first).
    """
    if segments.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=segments.device)
    if class_agnostic:
        return nms_1d(segments, scores, iou_thr, labels)
    # Shift each label to its own disjoint stretch of the time axis; the visiting
    # order is that of the unshifted segments.
    span = (segments.max() - segments.min()).abs() + 1
    shifted = segments + (labels.to(segments.dtype) * (span + 1))[:, None]
    return _greedy_nms(shifted, nms_order(segments, scores, labels), iou_thr)
