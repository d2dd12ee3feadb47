"""Neck from backbone feature maps to one feature per input frame."""

import torch.nn.functional as F
from mmaction.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor


@MODELS.register_module()
class TemporalAlignNeck(BaseModule):
    """Spatial pooling, then temporal alignment of T' backbone steps to the T frames.

    Backbones stride time differently (a ViT with tubelet 2 gives T' = T / 2, X3D
    keeps T' = T), so the neck reads T' from the feature map.

    Args:
        spatial_pool (str): ``'avg'`` or ``'max'`` over H' x W'. ``'max'`` keeps a
            small salient region (a hand on a grid of body and background tokens,
            each token carrying its position from the trunk) undiluted, where
            averaging divides it by H' x W'; the frozen-trunk demo needs it.
            Defaults to ``'avg'``.
        align (str): ``'nearest'`` repeats each step over the frames it covers, which
            keeps causality and lets clips be processed one at a time; ``'linear'``
            interpolates between steps (uses the next step: offline only).
            Defaults to ``'nearest'``.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(
        self, spatial_pool: str = 'avg', align: str = 'nearest', init_cfg: dict | None = None
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if spatial_pool not in ('avg', 'max'):
            raise ValueError(f"spatial_pool must be 'avg' or 'max', got {spatial_pool!r}")
        if align not in ('nearest', 'linear'):
            raise ValueError(f"align must be 'nearest' or 'linear', got {align!r}")
        self.spatial_pool = spatial_pool
        self.align = align

    def forward(self, feats: Tensor | tuple, num_frames: int) -> Tensor:
        """Pool and align.

        Args:
            feats (Tensor | tuple): ``(B, C, T', H', W')`` or already pooled
                ``(B, C, T')``; for a tuple of stages, the last one is used.
            num_frames (int): Frames T of the input window.

        Returns:
            Tensor: Per-frame features ``(B, C, T)``.
        """
        if isinstance(feats, (tuple, list)):
            feats = feats[-1]
        if feats.dim() == 5:
            feats = feats.mean((3, 4)) if self.spatial_pool == 'avg' else feats.amax((3, 4))
        if feats.dim() != 3:
            raise ValueError(
                f'expected backbone features (B, C, T, H, W) or (B, C, T), got {tuple(feats.shape)}'
            )
        steps = feats.size(-1)
        if steps == num_frames:
            return feats
        if self.align == 'nearest' and num_frames % steps == 0:
            return feats.repeat_interleave(num_frames // steps, dim=-1)
        if self.align == 'nearest':
            return F.interpolate(feats, size=num_frames, mode='nearest')
        return F.interpolate(feats, size=num_frames, mode='linear', align_corners=False)
