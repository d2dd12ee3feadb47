"""Temporal feature pyramid over per-frame features, and where its positions sit."""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..online_tad_head import _TemporalBlock


def check_strides(strides: tuple[int, ...]) -> None:
    """Raise unless the strides are positive and each one divides the next."""
    if not strides or any(int(s) != s or s < 1 for s in strides):
        raise ValueError(f'strides must be positive integers, got {strides}')
    for finer, coarser in zip(strides, strides[1:]):
        if coarser <= finer or coarser % finer:
            raise ValueError(
                f'each stride must be a larger multiple of the previous one, got {strides}'
            )


def level_lengths(num_frames: int, strides: tuple[int, ...]) -> list[int]:
    """Positions per level: ``ceil(num_frames / stride)`` (a partial last cell counts)."""
    return [-(-num_frames // s) for s in strides]


def level_positions(num_frames: int, strides: tuple[int, ...]) -> list[Tensor]:
    """Frame position of every pyramid position, one tensor per level.

    Position ``j`` of a level with stride ``s`` pools frames ``[j * s, (j + 1) * s)``
    and sits at their centre, frame ``j * s + (s - 1) / 2``.

    Args:
        num_frames (int): Frames T of the window.
        strides (tuple[int, ...]): Stride of each level in frames.

    Returns:
        list[Tensor]: float32 ``(T_l,)`` per level.
    """
    return [
        torch.arange(length, dtype=torch.float32) * s + (s - 1) / 2
        for length, s in zip(level_lengths(num_frames, strides), strides)
    ]


class TemporalPyramid(nn.Module):
    """Per-frame features ``(B, C, T)`` -> one feature map per stride.

    A 1x1 projection and ``num_stem_layers`` non-causal depthwise temporal blocks at
    the frame rate, then per level a max-pool by the stride ratio and one more block.
    ActionFormer uses local self-attention here; depthwise convolutions are cheaper
    on a CPU and reuse the online head's block.

    Args:
        in_channels (int): Channels of the input features.
        feat_channels (int): Width of every level.
        strides (tuple[int, ...]): Stride of each level in frames.
        num_stem_layers (int): Blocks at the frame rate (dilations 1, 2, 4, ...).
        kernel_size (int): Temporal kernel of the blocks (odd).
        dropout (float): Dropout inside the blocks.
    """

    def __init__(
        self,
        in_channels: int,
        feat_channels: int,
        strides: tuple[int, ...],
        num_stem_layers: int,
        kernel_size: int,
        dropout: float,
    ) -> None:
        super().__init__()
        check_strides(strides)
        self.strides = tuple(int(s) for s in strides)
        self.input_proj = nn.Conv1d(in_channels, feat_channels, 1)
        self.stem = nn.ModuleList(
            _TemporalBlock(feat_channels, kernel_size, 2**i, False, dropout)
            for i in range(num_stem_layers)
        )
        self.levels = nn.ModuleList(
            _TemporalBlock(feat_channels, kernel_size, 1, False, dropout) for _ in self.strides
        )

    def forward(self, feats: Tensor) -> list[Tensor]:
        """Returns ``(B, feat_channels, ceil(T / stride))`` per level."""
        x = self.input_proj(feats)
        for block in self.stem:
            x, _ = block(x)
        outputs, previous = [], 1
        for stride, block in zip(self.strides, self.levels):
            ratio = stride // previous
            if ratio > 1:
                x = F.max_pool1d(x, ratio, ratio, ceil_mode=True)
            x, _ = block(x)
            outputs.append(x)
            previous = stride
        return outputs
