"""Which ground truth each pyramid position learns (ActionFormer-style assignment)."""

import math

import torch
from torch import Tensor

from .pyramid import level_lengths


def default_regress_ranges(strides: tuple[int, ...]) -> tuple[tuple[float, float], ...]:
    """ActionFormer's regression ranges: ``[4 s_{l-1}, 4 s_l)`` per level, open-ended.

    Level ``l`` learns reaches from 4 strides of the level below it to 4 of its
    own strides, the finest from 0 and the coarsest up to infinity. A level of
    stride ``s`` thus learns gestures of about ``4 s`` to ``8 s`` frames (a
    position's reach is at least half the gesture), and strides 1-32 give
    ``(0, 4), (4, 8), ..., (64, inf)``.

    Args:
        strides (tuple[int, ...]): Stride of each level in frames, finest first.

    Returns:
        tuple[tuple[float, float], ...]: One ``(lo, hi)`` per level.
    """
    bounds = [0.0, *(4.0 * s for s in strides[:-1]), math.inf]
    return tuple(zip(bounds[:-1], bounds[1:]))


def level_max_reach(window_frames: int, stride: int, center_radius: float | None) -> float:
    """The largest reach a position of one level can have for any ground truth of a window.

    Ground truths lie inside ``[0, window_frames]`` (windows clip them). For a
    position ``p`` the farther boundary of a ground truth ``[a, b]`` containing it
    is at most ``window_frames - p`` to the right (``b`` at the window's end) or
    ``p`` to the left (``a`` at 0); centre sampling (the centre within ``rho =
    center_radius * stride`` of ``p``) caps these at ``p + 2 rho`` and
    ``window_frames - p + 2 rho``. Every smaller reach is possible too, so a level
    whose regression range starts above this value can never hold a positive.

    Args:
        window_frames (int): Input frames T of a window.
        stride (int): The level's stride in frames.
        center_radius (float, optional): Centre-sampling radius in strides; None
            for none.

    Returns:
        float: The largest reach in frames (0 where no position lies in the window).
    """
    # Plain floats, not tensors: the head may be built on the meta device.
    (length,) = level_lengths(window_frames, (stride,))
    slack = math.inf if center_radius is None else 2 * center_radius * stride
    best = 0.0
    for j in range(length):
        p = j * stride + (stride - 1) / 2  # as level_positions places it
        if p >= window_frames:
            continue  # past the last frame: inside no ground truth
        right = min(window_frames - p, p + slack)
        left = min(p, window_frames - p + slack)
        best = max(best, right, left)
    return best


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
