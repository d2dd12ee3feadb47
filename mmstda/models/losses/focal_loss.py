"""Sigmoid focal loss in plain PyTorch.

mmdet's ``FocalLoss`` needs ``mmdet.models``, whose import pulls compiled ``mmcv.ops``; this
one keeps the same call signature so configs can swap ``type='mmdet.FocalLoss'`` in where
mmdet imports.
"""

import torch.nn.functional as F
from mmaction.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor

from .reduction import check_reduction, weight_reduce_loss


@MODELS.register_module()
class SigmoidFocalLoss(BaseModule):
    """Sigmoid focal loss (Lin et al., ICCV 2017) with mmdet's calling convention.

    Args:
        gamma (float): Focusing parameter; 0 gives plain binary cross-entropy.
            Defaults to 2.0.
        alpha (float): Weight of the positive term; the negative term gets
            ``1 - alpha``. Negative to disable. Defaults to 0.25.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``. Defaults to ``'mean'``.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
    """

    def __init__(
        self,
        gamma: float = 2.0,
        alpha: float = 0.25,
        reduction: str = 'mean',
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__()
        check_reduction(reduction)
        if gamma < 0:
            raise ValueError(f'gamma must be >= 0, got {gamma}')
        self.gamma = gamma
        self.alpha = alpha
        self.reduction = reduction
        self.loss_weight = loss_weight

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
            pred (Tensor): Logits, shape ``(N, C)``.
            target (Tensor): Either class indices ``(N,)`` in ``[0, C]`` where ``C``
                means background (mmdet's convention), or binary / soft targets of
                the same shape as ``pred``.
            weight (Tensor, optional): Element weights, shape ``(N,)`` or ``(N, C)``.
                Defaults to None.
            avg_factor (float, optional): Divisor of the summed loss for
                ``'mean'`` (e.g. the number of positives). Defaults to None, meaning
                the number of elements.
            reduction_override (str, optional): Overrides ``reduction``.
                Defaults to None.

        Returns:
            Tensor: The loss, a scalar unless the reduction is ``'none'``.
        """
        if target.dim() == pred.dim() - 1:
            num_classes = pred.size(-1)
            if target.numel() and (target.min() < 0 or target.max() > num_classes):
                raise ValueError(
                    f'class targets must be in [0, {num_classes}] ({num_classes} = background), '
                    f'got range [{int(target.min())}, {int(target.max())}]'
                )
            # Background rows (index C) become all-zero targets.
            target = F.one_hot(target.long(), num_classes + 1)[..., :num_classes]
        if target.shape != pred.shape:
            raise ValueError(
                f'target must have shape {tuple(pred.shape[:-1])} or {tuple(pred.shape)}, '
                f'got {tuple(target.shape)}'
            )
        target = target.to(pred.dtype)
        prob = pred.sigmoid()
        ce = F.binary_cross_entropy_with_logits(pred, target, reduction='none')
        p_t = prob * target + (1 - prob) * (1 - target)
        loss = ce * (1 - p_t).pow(self.gamma)
        if self.alpha >= 0:
            loss = loss * (self.alpha * target + (1 - self.alpha) * (1 - target))
        if weight is not None and weight.dim() == 1:
            weight = weight[:, None]
        reduction = reduction_override or self.reduction
        return weight_reduce_loss(loss, weight, reduction, avg_factor, self.loss_weight)
