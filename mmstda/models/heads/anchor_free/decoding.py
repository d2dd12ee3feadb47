"""From per-position class scores and boundary distances to a window's segments."""

import torch
from torch import Tensor

from mmstda.structures import batched_nms_1d, segment_voting, soft_nms_1d


def top_candidates(
    cls_scores: Tensor,
    distances: Tensor,
    positions: Tensor,
    score_thr: float,
    topk: int,
    min_duration: float,
) -> tuple[Tensor, Tensor, Tensor]:
    """Every (position, class) pair scoring above ``score_thr``, best ``topk`` first.

    Args:
        cls_scores (Tensor): ``(P, K)`` class probabilities.
        distances (Tensor): ``(P, 2)`` distances to the start and the end, in frames.
        positions (Tensor): ``(P,)`` frame positions.
        score_thr (float): Class probability a candidate must exceed.
        topk (int): Most candidates kept.
        min_duration (float): Shortest segment kept, in frames.

    Returns:
        tuple[Tensor, Tensor, Tensor]: Segments ``(N, 2)`` ``[position - start
        distance, position + end distance]``, scores ``(N,)`` and labels ``(N,)``.
    """
    num_classes = cls_scores.size(1)
    flat = cls_scores.flatten()
    index = torch.nonzero(flat > score_thr).squeeze(1)
    scores = flat[index]
    if scores.numel() > topk:
        scores, order = scores.topk(topk)
        index = index[order]
    point, labels = index // num_classes, index % num_classes
    segments = torch.stack(
        [positions[point] - distances[point, 0], positions[point] + distances[point, 1]], dim=1
    )
    long_enough = segments[:, 1] - segments[:, 0] >= min_duration
    return segments[long_enough], scores[long_enough], labels[long_enough]


def suppress(
    segments: Tensor,
    scores: Tensor,
    labels: Tensor,
    method: str,
    iou_thr: float,
    sigma: float,
    min_score: float,
    voting_iou_thr: float | None,
    class_agnostic: bool,
    max_num: int,
) -> tuple[Tensor, Tensor, Tensor]:
    """(Soft-)NMS and optional boundary voting over one window's candidates.

    Args:
        segments (Tensor): ``(N, 2)`` candidates.
        scores (Tensor): ``(N,)`` their scores.
        labels (Tensor): ``(N,)`` their labels.
        method (str): ``'soft'`` (Gaussian Soft-NMS) or ``'hard'`` (greedy NMS).
        iou_thr (float): IoU above which hard NMS suppresses.
        sigma (float): Soft-NMS decay width.
        min_score (float): Soft-NMS drops segments decayed below this.
        voting_iou_thr (float, optional): IoU a candidate needs to vote on a kept
            segment's boundaries; None turns voting off.
        class_agnostic (bool): Let classes suppress (and vote for) each other.
        max_num (int): Most segments kept.

    Returns:
        tuple[Tensor, Tensor, Tensor]: Kept segments, scores and labels, best first.
    """
    if method == 'soft':
        keep, kept_scores = soft_nms_1d(
            segments, scores, labels, sigma, min_score, max_num, class_agnostic
        )
    else:
        # The real labels go in even when class-agnostic: they break score ties.
        keep = batched_nms_1d(segments, scores, labels, iou_thr, class_agnostic=class_agnostic)
        keep = keep[:max_num]
        kept_scores = scores[keep]
    kept, kept_labels = segments[keep], labels[keep]
    if voting_iou_thr is not None:
        kept = segment_voting(
            kept, kept_labels, segments, scores, labels, voting_iou_thr, class_agnostic
        )
    return kept, kept_scores, kept_labels
