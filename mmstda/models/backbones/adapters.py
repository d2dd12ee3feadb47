"""Bottleneck convolutional adapters placed after ViT blocks.

Not registered: :class:`DecoupledAdapterViT` builds them from its own arguments.
"""

import math

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.model.weight_init import constant_init, trunc_normal_init
from torch import Tensor, nn

ADAPTER_TYPES = ('stda', 'temporal', 'joint')


class ConvAdapter(BaseModule):
    """Bottleneck adapter with depthwise convolutions over the token grid.

    ``out = x + gamma * up_proj(fuse(act(down_proj(x))))``, where ``up_proj`` is
    zero-initialised and ``gamma`` (a learnable scalar, init 1) scales it, so at
    initialisation the adapter is the identity (as in AdaTAD).

    With ``h = act(down_proj(x))`` of width ``round(ratio * C)``, the variants are:

    - ``'stda'``: decoupled temporal ``(k_t, 1, 1)`` and spatial ``(1, k_s, k_s)``
      depthwise branches, fused by a **residual sum** ``h + temporal(h) + spatial(h)``.
      Why a sum: both branches are linear depthwise convolutions, so their sum is
      one depthwise kernel shaped like a cross (``k_t + k_s**2`` taps per channel
      instead of ``k_t * k_s**2``) with no fusion parameters; the ``h`` term keeps
      AdaTAD's identity path through the bottleneck; channel mixing is left to
      ``up_proj``, so concatenation (which doubles ``up_proj``) buys nothing.
    - ``'temporal'``: AdaTAD's temporal-informative adapter,
      ``h + pointwise_conv(temporal_conv(h))``.
    - ``'joint'``: one depthwise ``(k_t, k_s, k_s)`` kernel (ST-Adapter-like),
      ``h + joint_conv(h)``.

    Temporal padding: symmetric zeros over the whole window, or, with
    ``causal=True``, ``k_t - 1`` steps on the past side only, taken from ``cache``
    (the last ``k_t - 1`` bottleneck steps of the previous clip) when given.

    Args:
        embed_dims (int): Token width C.
        adapter_type (str): One of ``'stda'``, ``'temporal'``, ``'joint'``.
            Defaults to 'stda'.
        ratio (float): Bottleneck width as a fraction of C. Defaults to 0.25.
        temporal_kernel (int): Temporal kernel size k_t (odd), in tokens.
            Defaults to 3.
        spatial_kernel (int): Spatial kernel size k_s (odd), in tokens.
            Defaults to 3.
        causal (bool): Pad the temporal convolution on the past side only.
            Defaults to False.
    """

    def __init__(
        self,
        embed_dims: int,
        adapter_type: str = 'stda',
        ratio: float = 0.25,
        temporal_kernel: int = 3,
        spatial_kernel: int = 3,
        causal: bool = False,
    ) -> None:
        super().__init__()
        if adapter_type not in ADAPTER_TYPES:
            raise ValueError(
                f'adapter_type must be one of {ADAPTER_TYPES} or None, got {adapter_type!r}'
            )
        for name, size in (
            ('temporal_kernel', temporal_kernel),
            ('spatial_kernel', spatial_kernel),
        ):
            if size < 1 or size % 2 == 0:
                raise ValueError(f'{name} must be a positive odd integer, got {size}')
        hidden_dims = round(ratio * embed_dims)
        if hidden_dims < 1:
            raise ValueError(f'adapter ratio {ratio} gives an empty bottleneck for C={embed_dims}')
        self.adapter_type = adapter_type
        self.hidden_dims = hidden_dims
        self.temporal_kernel = temporal_kernel
        self.spatial_kernel = spatial_kernel
        self.causal = causal

        self.down_proj = nn.Linear(embed_dims, hidden_dims)
        self.act = nn.GELU()
        spatial_pad = spatial_kernel // 2
        if adapter_type in ('stda', 'temporal'):
            # Temporal padding is applied by hand (causal / cached), hence padding 0.
            self.temporal_conv = nn.Conv3d(
                hidden_dims, hidden_dims, (temporal_kernel, 1, 1), groups=hidden_dims
            )
        if adapter_type == 'stda':
            self.spatial_conv = nn.Conv3d(
                hidden_dims,
                hidden_dims,
                (1, spatial_kernel, spatial_kernel),
                padding=(0, spatial_pad, spatial_pad),
                groups=hidden_dims,
            )
        elif adapter_type == 'temporal':
            self.pointwise_conv = nn.Linear(hidden_dims, hidden_dims)
        elif adapter_type == 'joint':
            self.joint_conv = nn.Conv3d(
                hidden_dims,
                hidden_dims,
                (temporal_kernel, spatial_kernel, spatial_kernel),
                padding=(0, spatial_pad, spatial_pad),
                groups=hidden_dims,
            )
        self.up_proj = nn.Linear(hidden_dims, embed_dims)
        self.gamma = nn.Parameter(torch.ones(1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Initialise so that the adapter is the identity (zero ``up_proj``)."""
        trunc_normal_init(self.down_proj, std=0.02, bias=0.0)
        for conv in (
            getattr(self, n, None) for n in ('temporal_conv', 'spatial_conv', 'joint_conv')
        ):
            if conv is not None:
                # He-style init over the taps of one depthwise filter.
                fan_in = math.prod(conv.kernel_size)
                nn.init.normal_(conv.weight, std=math.sqrt(2.0 / fan_in))
                nn.init.zeros_(conv.bias)
        if hasattr(self, 'pointwise_conv'):
            nn.init.normal_(self.pointwise_conv.weight, std=math.sqrt(2.0 / self.hidden_dims))
            nn.init.zeros_(self.pointwise_conv.bias)
        constant_init(self.up_proj, 0.0)
        nn.init.ones_(self.gamma)

    def init_weights(self) -> None:
        """Re-apply the adapter init after a parent's ``init_cfg`` (e.g. a
        TruncNormal over every Linear) has touched the adapter layers."""
        self.reset_parameters()
        self._is_init = True

    def _pad_time(self, h: Tensor, cache: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """Pad ``h`` (B, r, T, H, W) along time; return it and the new cache."""
        past_steps = self.temporal_kernel - 1
        if past_steps == 0:
            return h, None
        if not self.causal:
            half = past_steps // 2
            return F.pad(h, (0, 0, 0, 0, half, half)), None
        if cache is None:
            cache = h.new_zeros(h.shape[0], h.shape[1], past_steps, *h.shape[3:])
        elif cache.shape[:2] + cache.shape[3:] != h.shape[:2] + h.shape[3:] or (
            cache.shape[2] != past_steps
        ):
            raise ValueError(
                f'adapter cache has shape {tuple(cache.shape)}, expected '
                f'{(h.shape[0], h.shape[1], past_steps, *h.shape[3:])}: the clip batch size '
                'or spatial size changed between forward_stream calls'
            )
        padded = torch.cat([cache.to(h.dtype), h], dim=2)
        # Detached (no growing autograd graph) and copied (a view would keep the
        # whole clip's bottleneck alive).
        return padded, padded[:, :, -past_steps:].detach().clone()

    def forward(
        self, x: Tensor, batch_size: int, grid_hw: tuple[int, int], cache: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """Apply the adapter to a window of tokens.

        Args:
            x (Tensor): Tokens ``(B * n_clips, L, C)``, clip-major within each sample,
                each clip flattened as ``(T'_clip, H', W')``.
            batch_size (int): B.
            grid_hw (tuple[int, int]): ``(H', W')``.
            cache (Tensor, optional): ``(B, r, k_t - 1, H', W')`` bottleneck steps
                preceding this window (causal mode only). Defaults to None (zeros).

        Returns:
            tuple[Tensor, Tensor | None]: Tokens of the same shape as ``x``, and the
            new cache (causal mode with ``k_t > 1``) or None.
        """
        h = self.act(self.down_proj(x))
        h_grid = h.reshape(batch_size, -1, *grid_hw, self.hidden_dims)  # (B, T', H', W', r)
        h_cf = h_grid.permute(0, 4, 1, 2, 3)  # (B, r, T', H', W') for conv3d
        new_cache = None
        if self.adapter_type == 'stda':
            padded, new_cache = self._pad_time(h_cf, cache)
            branches = self.temporal_conv(padded) + self.spatial_conv(h_cf)
            fused = h_grid + branches.permute(0, 2, 3, 4, 1)
        elif self.adapter_type == 'temporal':
            padded, new_cache = self._pad_time(h_cf, cache)
            fused = h_grid + self.pointwise_conv(self.temporal_conv(padded).permute(0, 2, 3, 4, 1))
        else:
            padded, new_cache = self._pad_time(h_cf, cache)
            fused = h_grid + self.joint_conv(padded).permute(0, 2, 3, 4, 1)
        out = self.up_proj(fused.reshape(h.shape)) * self.gamma
        return x + out, new_cache
