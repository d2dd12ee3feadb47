"""The weighting and reduction shared by mmstda's losses (mmdet's convention)."""

import torch
from torch import Tensor

REDUCTIONS = ('none', 'mean', 'sum')


def check_reduction(reduction: str) -> None:
    """Raise a clear error for an unknown reduction."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")


def weight_reduce_loss(
    loss: Tensor,
    weight: Tensor | None,
    reduction: str,
    avg_factor: float | None,
    loss_weight: float,
) -> Tensor:
    """Multiply by ``weight`` (broadcast), reduce, and scale by ``loss_weight``.

    ``'mean'`` divides the sum by ``avg_factor`` when given (e.g. the number of
    positives), else by the number of elements.
    """
    if weight is not None:
        loss = loss * weight
    if reduction == 'none':
        return loss_weight * loss
    if reduction == 'sum':
        return loss_weight * loss.sum()
    denom = loss.numel() if avg_factor is None else avg_factor
    return loss_weight * loss.sum() / max(float(denom), torch.finfo(loss.dtype).eps)
