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
STDA_FUSIONS = ('decoupled', 'cross')
# Channel groups of each STDA branch's pointwise mixing. Two groups halve its
# parameters, which keeps the adapters under 5% of the backbone for every
# VideoMAEv2 size (full mixing would put ViT-S at 5.2% of its trunk).
BRANCH_MIX_GROUPS = 2


class ConvAdapter(BaseModule):
    """Bottleneck adapter with depthwise convolutions over the token grid.

    ``out = x + gamma * up_proj(fuse(act(down_proj(x))))``, where ``up_proj`` is
    zero-initialised and ``gamma`` (a learnable scalar, init 1) scales it, so at
    initialisation the adapter is the identity (as in AdaTAD).

    With ``h = act(down_proj(x))`` of width ``r = round(ratio * C)`` on the
    ``(T', H', W')`` token grid, the variants are:

    - ``'stda'`` with ``fusion='decoupled'`` (the default): two parallel
      branches, each with its own structure,

      ``fuse(h) = h + s_t * P_t(act(D_t(h))) + s_s * P_s(act(D_s(h)))``

      where ``D_t`` is a depthwise ``(k_t, 1, 1)`` convolution along time,
      ``D_s`` a depthwise ``(1, k_s, k_s)`` convolution over each frame's grid,
      ``P_t`` and ``P_s`` are each branch's own pointwise channel mixing
      (1x1x1 convolutions in ``BRANCH_MIX_GROUPS`` channel groups, one
      group when r is odd), ``act`` is
      GELU and ``s_t``, ``s_s`` are learnable scalars (init 1) that say how
      much each branch contributes (:meth:`branch_scales`; the backbone logs
      them during training). Why it is decoupled: the GELU after each
      depthwise conv makes each branch a nonlinear function of its own
      neighbourhood only (time for one, space for the other), so their sum is
      not one convolution: no depthwise ``(k_t, k_s, k_s)`` kernel reproduces
      it (a test fits one by least squares and finds a large residual), and
      each branch mixes channels with its own weights before the two meet.
      This is AdaTAD's temporal-informative adapter (depthwise temporal conv +
      1x1 conv) with a spatial twin beside it. Streaming stays exact: every
      step after the causal temporal conv is per token.
    - ``'stda'`` with ``fusion='cross'``: the linear sum
      ``h + D_t(h) + D_s(h)``. Both branches are linear depthwise convolutions,
      so this equals one depthwise ``(k_t, k_s, k_s)`` kernel whose taps off the
      central cross are zero (``k_t + k_s**2 - 1`` free taps per channel):
      the ablation's "not decoupled" control.
    - ``'temporal'``: AdaTAD's temporal-informative adapter,
      ``h + pointwise_conv(temporal_conv(h))``; loads OpenTAD weights.
    - ``'joint'``: one depthwise ``(k_t, k_s, k_s)`` kernel (ST-Adapter-like),
      ``h + joint_conv(h)``.

    Parameters per adapter (biases included), ``r = round(ratio * C)``:
    ``down/up_proj`` ``2 r C + r + C``, plus ``r (k_t + 1) + r (k_s**2 + 1)`` for
    the two depthwise convs, plus ``2 (r**2 / BRANCH_MIX_GROUPS + r) + 2`` for
    the decoupled fusion. Whole backbones are listed in
    :class:`~mmstda.models.backbones.DecoupledAdapterViT`.

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
        fusion (str): How ``'stda'`` fuses its branches: ``'decoupled'`` or
            ``'cross'`` (see above); ignored by the other types.
            Defaults to 'decoupled'.
    """

    def __init__(
        self,
        embed_dims: int,
        adapter_type: str = 'stda',
        ratio: float = 0.25,
        temporal_kernel: int = 3,
        spatial_kernel: int = 3,
        causal: bool = False,
        fusion: str = 'decoupled',
    ) -> None:
        super().__init__()
        if adapter_type not in ADAPTER_TYPES:
            raise ValueError(
                f'adapter_type must be one of {ADAPTER_TYPES} or None, got {adapter_type!r}'
            )
        if fusion not in STDA_FUSIONS:
            raise ValueError(f'stda_fusion must be one of {STDA_FUSIONS}, got {fusion!r}')
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
        self.fusion = fusion if adapter_type == 'stda' else None

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
            if fusion == 'decoupled':
                groups = BRANCH_MIX_GROUPS if hidden_dims % BRANCH_MIX_GROUPS == 0 else 1
                self.temporal_mix = nn.Conv3d(hidden_dims, hidden_dims, 1, groups=groups)
                self.spatial_mix = nn.Conv3d(hidden_dims, hidden_dims, 1, groups=groups)
                self.temporal_scale = nn.Parameter(torch.ones(1))
                self.spatial_scale = nn.Parameter(torch.ones(1))
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
        for mix in (getattr(self, n, None) for n in ('temporal_mix', 'spatial_mix')):
            if mix is not None:
                nn.init.normal_(mix.weight, std=math.sqrt(2.0 / mix.weight.shape[1]))
                nn.init.zeros_(mix.bias)
        if hasattr(self, 'temporal_scale'):
            nn.init.ones_(self.temporal_scale)
            nn.init.ones_(self.spatial_scale)
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

    def branch_scales(self) -> dict[str, Tensor] | None:
        """The decoupled STDA branch scales ``s_t``, ``s_s`` (None for other adapters)."""
        if self.fusion != 'decoupled':
            return None
        return dict(temporal=self.temporal_scale, spatial=self.spatial_scale)

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
        padded, new_cache = self._pad_time(h_cf, cache)
        if self.fusion == 'decoupled':
            temporal = self.temporal_mix(self.act(self.temporal_conv(padded)))
            spatial = self.spatial_mix(self.act(self.spatial_conv(h_cf)))
            branches = self.temporal_scale * temporal + self.spatial_scale * spatial
            fused = h_grid + branches.permute(0, 2, 3, 4, 1)
        elif self.fusion == 'cross':
            branches = self.temporal_conv(padded) + self.spatial_conv(h_cf)
            fused = h_grid + branches.permute(0, 2, 3, 4, 1)
        elif self.adapter_type == 'temporal':
            fused = h_grid + self.pointwise_conv(self.temporal_conv(padded).permute(0, 2, 3, 4, 1))
        else:
            fused = h_grid + self.joint_conv(padded).permute(0, 2, 3, 4, 1)
        out = self.up_proj(fused.reshape(h.shape)) * self.gamma
        return x + out, new_cache
