"""Gaussian Soft-NMS and boundary voting for temporal segments, in plain PyTorch.

mmcv-lite has no ``mmcv.ops`` (where mmcv's ``soft_nms`` lives), so this is written
out. Segments are ``(N, 2)`` tensors of ``[start_frame, end_frame]``.
"""

import torch
from torch import Tensor

from .segment_ops import nms_order, segment_iou, tie_break_order


def _same_group(labels: Tensor, class_agnostic: bool) -> Tensor:
    """``(N, N)`` mask of pairs allowed to interact."""
    if class_agnostic:
        return torch.ones(len(labels), len(labels), dtype=torch.bool, device=labels.device)
    return labels[:, None] == labels[None, :]


def soft_nms_1d(
    segments: Tensor,
    scores: Tensor,
    labels: Tensor,
    sigma: float = 0.5,
    min_score: float = 1e-3,
    max_num: int = 100,
    class_agnostic: bool = False,
) -> tuple[Tensor, Tensor]:
    """Gaussian Soft-NMS (Bodla et al., ICCV 2017) on 1D segments.

    Repeatedly keeps the highest-scored remaining segment and multiplies the score of
    every other remaining segment of the same class (of any class with
    ``class_agnostic``) by ``exp(-iou**2 / sigma)``, where ``iou`` is their temporal
    IoU (0 when disjoint). It stops after ``max_num`` segments or when no remaining
    score reaches ``min_score``. Equal (decayed) scores are broken as in
    :func:`~mmstda.structures.segment_ops.nms_order`: earlier start, then earlier end,
    then lower label first, so the kept segments do not depend on the input order.

    Args:
        segments (Tensor): ``(N, 2)`` segments.
        scores (Tensor): ``(N,)`` scores.
        labels (Tensor): ``(N,)`` class labels.
        sigma (float): Width of the Gaussian decay; smaller suppresses harder.
            Defaults to 0.5.
        min_score (float): Segments whose decayed score falls below this are dropped.
            Defaults to 1e-3.
        max_num (int): Most segments kept. Defaults to 100.
        class_agnostic (bool): Let segments of different classes decay each other.
            Defaults to False.

    Returns:
        tuple[Tensor, Tensor]: Indices of the kept segments into the inputs, in the
        order they were kept (non-increasing decayed score), and their decayed scores.
    """
    if sigma <= 0:
        raise ValueError(f'sigma must be > 0, got {sigma}')
    if not len(segments) == len(scores) == len(labels):
        raise ValueError(
            f'segments, scores and labels must have the same length, got '
            f'{len(segments)}, {len(scores)} and {len(labels)}'
        )
    device = segments.device
    if segments.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=device), scores.new_zeros(0)
    decay = torch.exp(-segment_iou(segments.float(), segments.float()).clamp(min=0).pow(2) / sigma)
    decay = torch.where(_same_group(labels, class_agnostic), decay, torch.ones_like(decay))
    current = scores.float().clone()
    remaining = torch.ones(len(scores), dtype=torch.bool, device=device)
    # Rank of each segment among equal scores (nms_order's tie-break).
    tie_rank = torch.empty(len(scores), dtype=torch.long, device=device)
    tie_rank[tie_break_order(segments, labels)] = torch.arange(len(scores), device=device)
    keep, kept_scores = [], []
    while len(keep) < max_num:
        masked = torch.where(remaining, current, torch.full_like(current, -1.0))
        top = masked.max()
        tied = remaining & (current == top)
        if not tied.any() or top < min_score:
            break
        best = int(torch.where(tied, tie_rank, len(scores)).argmin())
        keep.append(best)
        kept_scores.append(current[best].clone())
        remaining[best] = False
        current = current * decay[best]
    if not keep:
        return torch.zeros(0, dtype=torch.long, device=device), scores.new_zeros(0)
    return torch.tensor(keep, dtype=torch.long, device=device), torch.stack(kept_scores).to(
        scores.dtype
    )


def segment_voting(
    kept: Tensor,
    kept_labels: Tensor,
    segments: Tensor,
    scores: Tensor,
    labels: Tensor,
    iou_thr: float,
    class_agnostic: bool = False,
) -> Tensor:
    """Refine kept segments' boundaries by the candidates that agree with them.

    Each kept segment becomes the score-weighted mean of the candidate segments of its
    class (any class with ``class_agnostic``) whose IoU with it is at least
    ``iou_thr``; it always counts itself when it is among the candidates.

    Args:
        kept (Tensor): ``(M, 2)`` segments kept by NMS.
        kept_labels (Tensor): ``(M,)`` their labels.
        segments (Tensor): ``(N, 2)`` candidates before NMS.
        scores (Tensor): ``(N,)`` candidates' scores (before decay).
        labels (Tensor): ``(N,)`` candidates' labels.
        iou_thr (float): IoU a candidate needs to vote.
        class_agnostic (bool): Let candidates of any class vote. Defaults to False.

    Returns:
        Tensor: ``(M, 2)`` refined segments (a segment without voters is unchanged).
    """
    if kept.numel() == 0 or segments.numel() == 0:
        return kept.clone()
    # Sum the votes in a fixed order so the float result does not depend on the
    # order the candidates come in.
    order = nms_order(segments, scores, labels)
    segments, scores, labels = segments[order], scores[order], labels[order]
    iou = segment_iou(kept.float(), segments.float())
    votes = iou >= iou_thr
    if not class_agnostic:
        votes &= kept_labels[:, None] == labels[None, :]
    weights = votes.float() * scores.float()[None, :]
    total = weights.sum(dim=1, keepdim=True)
    refined = weights @ segments.float() / total.clamp(min=torch.finfo(torch.float32).tiny)
    return torch.where(total > 0, refined, kept.float()).to(kept.dtype)
