"""IoU-family losses between aligned 1D segments, in plain PyTorch.

mmdet's ``IoULoss``/``GIoULoss``/``DIoULoss`` work on 2D boxes; temporal detection needs
the 1D versions (as in ActionFormer's DIoU regression loss).
"""

import torch
from mmaction.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor

from .reduction import check_reduction, weight_reduce_loss

SEGMENT_IOU_MODES = ('iou', 'giou', 'diou')


def segment_iou_loss(pred: Tensor, target: Tensor, mode: str = 'diou', eps: float = 1e-6) -> Tensor:
    """Element-wise IoU-family loss of aligned segments ``[start, end]``.

    With intersection ``I``, union ``U`` and the enclosing (hull) length ``C``:

    - ``'iou'``: ``1 - I / U``;
    - ``'giou'``: ``1 - I / U + (C - U) / C``;
    - ``'diou'``: ``1 - I / U + d**2 / C**2`` with ``d`` the distance between centres.

    GIoU and DIoU still give a gradient when the segments do not overlap. Segments
    decoded from distances to the same anchor point always share that point, so for
    them ``C == U`` and GIoU equals IoU: only DIoU adds a term there.

    Args:
        pred (Tensor): Predicted segments ``(N, 2)``.
        target (Tensor): Target segments ``(N, 2)``, ``end >= start``.
        mode (str): ``'iou'``, ``'giou'`` or ``'diou'``. Defaults to ``'diou'``.
        eps (float): Keeps the divisions finite for empty segments. Defaults to 1e-6.

    Returns:
        Tensor: Loss per segment pair, shape ``(N,)``.
    """
    if mode not in SEGMENT_IOU_MODES:
        raise ValueError(f'mode must be one of {SEGMENT_IOU_MODES}, got {mode!r}')
    if pred.shape != target.shape or pred.dim() != 2 or pred.size(-1) != 2:
        raise ValueError(
            f'pred and target must both be (N, 2) segments, got {tuple(pred.shape)} '
            f'and {tuple(target.shape)}'
        )
    pred_start, pred_end = pred.unbind(-1)
    target_start, target_end = target.unbind(-1)
    inter = (torch.minimum(pred_end, target_end) - torch.maximum(pred_start, target_start)).clamp(
        min=0
    )
    union = (pred_end - pred_start) + (target_end - target_start) - inter
    iou = inter / union.clamp(min=eps)
    loss = 1 - iou
    if mode == 'iou':
        return loss
    hull = (torch.maximum(pred_end, target_end) - torch.minimum(pred_start, target_start)).clamp(
        min=eps
    )
    if mode == 'giou':
        return loss + (hull - union) / hull
    centre_distance = (pred_start + pred_end - target_start - target_end) / 2
    return loss + centre_distance.pow(2) / hull.pow(2)


@MODELS.register_module()
class SegmentIoULoss(BaseModule):
    """IoU, GIoU or DIoU loss of temporal segments, with mmdet's calling convention.

    Args:
        mode (str): ``'iou'``, ``'giou'`` or ``'diou'`` (see :func:`segment_iou_loss`).
            Defaults to ``'diou'``.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``. Defaults to ``'mean'``.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        eps (float): Keeps the divisions finite. Defaults to 1e-6.
    """

    def __init__(
        self,
        mode: str = 'diou',
        reduction: str = 'mean',
        loss_weight: float = 1.0,
        eps: float = 1e-6,
    ) -> None:
        super().__init__()
        if mode not in SEGMENT_IOU_MODES:
            raise ValueError(f'mode must be one of {SEGMENT_IOU_MODES}, got {mode!r}')
        check_reduction(reduction)
        self.mode = mode
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.eps = eps

    def forward(
        self,
        pred: Tensor,
        target: Tensor,
        weight: Tensor | None = None,
        avg_factor: float | None = None,
        reduction_override: str | None = None,
    ) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): Predicted segments ``(N, 2)`` as ``[start, end]``.
            target (Tensor): Target segments ``(N, 2)``.
            weight (Tensor, optional): Per-pair weights ``(N,)``. Defaults to None.
            avg_factor (float, optional): Divisor of the summed loss for ``'mean'``.
                Defaults to None, meaning N.
            reduction_override (str, optional): Overrides ``reduction``.
                Defaults to None.

        Returns:
            Tensor: The loss, a scalar unless the reduction is ``'none'``.
        """
        loss = segment_iou_loss(pred, target, self.mode, self.eps)
        reduction = reduction_override or self.reduction
        return weight_reduce_loss(loss, weight, reduction, avg_factor, self.loss_weight)
