"""Which ground truth each pyramid position learns (ActionFormer-style assignment)."""

import torch
from torch import Tensor


def assign_targets(
    positions: Tensor,
    strides: Tensor,
    regress_ranges: Tensor,
    gt_segments: Tensor,
    gt_labels: Tensor,
    num_classes: int,
    center_radius: float | None = 1.5,
) -> tuple[Tensor, Tensor]:
    """Label and target segment of every position of every level, in frames.

    A position ``p`` of stride ``s`` is a candidate for ground truth ``[a, b]`` when

    1. it lies inside it: ``a <= p < b`` (the frame rule of the online head);
    2. with centre sampling, it lies within ``center_radius * s`` frames of the
       ground truth's centre ``(a + b) / 2``;
    3. its largest distance to a boundary, ``max(p - a, b - p)``, is in the level's
       regression range ``[lo, hi)``, so short gestures are learnt by fine levels
       and long ones by coarse levels.

    A position with several candidates learns the **shortest** one (the lowest index
    among equally short ones), as in FCOS and ActionFormer: the longer gesture still
    has positions of its own outside the shorter one. A position without a
    candidate is background (label ``num_classes``).

    Args:
        positions (Tensor): ``(P,)`` frame position of each position, all levels
            concatenated.
        strides (Tensor): ``(P,)`` stride of each position's level, in frames.
        regress_ranges (Tensor): ``(P, 2)`` ``[lo, hi)`` of each position's level.
        gt_segments (Tensor): ``(G, 2)`` ground truths ``[start, end]`` in frames.
        gt_labels (Tensor): ``(G,)`` labels in ``[0, num_classes)``.
        num_classes (int): Number of classes K.
        center_radius (float, optional): Centre-sampling radius in strides; None
            uses every position inside the ground truth. Defaults to 1.5.

    Returns:
        tuple[Tensor, Tensor]: Labels ``(P,)`` (K = background) and target segments
        ``(P, 2)`` (zeros at background positions).
    """
    num_points = positions.numel()
    labels = torch.full((num_points,), num_classes, dtype=torch.long, device=positions.device)
    targets = positions.new_zeros(num_points, 2)
    if gt_segments.numel() == 0:
        return labels, targets
    gt_segments = gt_segments.to(positions)
    start, end = gt_segments[:, 0][None], gt_segments[:, 1][None]  # (1, G)
    p = positions[:, None]  # (P, 1)
    left, right = p - start, end - p
    candidate = (left >= 0) & (right > 0)
    if center_radius is not None:
        centre = (start + end) / 2
        radius = center_radius * strides.to(positions)[:, None]
        candidate &= (p >= centre - radius) & (p <= centre + radius)
    reach = torch.maximum(left, right)
    ranges = regress_ranges.to(positions)
    candidate &= (reach >= ranges[:, :1]) & (reach < ranges[:, 1:])
    length = (end - start).expand(num_points, -1)
    length = torch.where(candidate, length, torch.full_like(length, float('inf')))
    shortest = length.argmin(dim=1)  # the first of equally short ones
    positive = candidate.any(dim=1)
    labels[positive] = gt_labels.to(labels.device)[shortest[positive]]
    targets[positive] = gt_segments[shortest[positive]]
    return labels, targets
