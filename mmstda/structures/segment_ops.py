"""Operations on temporal segments in plain PyTorch (no ``mmcv.ops``).

Segments are ``(N, 2)`` tensors of ``[start_frame, end_frame]``.
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


def nms_1d(segments: Tensor, scores: Tensor, iou_thr: float) -> Tensor:
    """Greedy 1D NMS. Returns indices of kept segments, highest score first."""
    if segments.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=segments.device)
    order = scores.argsort(descending=True)
    ious = segment_iou(segments[order].float(), segments[order].float())
    suppressed = torch.zeros(len(order), dtype=torch.bool, device=segments.device)
    keep = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= ious[i] > iou_thr
    return order[torch.tensor(keep, dtype=torch.long, device=segments.device)]


def batched_nms_1d(segments: Tensor, scores: Tensor, labels: Tensor, iou_thr: float) -> Tensor:
    """Class-aware 1D NMS: segments of different labels never suppress each other."""
    if segments.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=segments.device)
    # Shift each label to its own disjoint stretch of the time axis.
    span = (segments.max() - segments.min()).abs() + 1
    shifted = segments + (labels.to(segments.dtype) * (span + 1))[:, None]
    return nms_1d(shifted, scores, iou_thr)
