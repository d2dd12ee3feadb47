"""VideoMAE(v2) ViT with Spatial-Temporal Decoupled Adapters (STDA)."""

import fnmatch
import logging

import torch
import torch.nn.functional as F
from mmaction.models.backbones.vit_mae import get_sinusoid_encoding
from mmaction.registry import MODELS
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks.transformer import PatchEmbed
from mmengine.logging import MessageHub, print_log
from mmengine.model import BaseModule, ModuleList
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _NormBase

from .adapters import ADAPTER_TYPES, STDA_FUSIONS
from .checkpoint_convert import (
    convert_opentad_adapters,
    convert_to_mmaction_vit,
    extract_state_dict,
    has_opentad_adapters,
    load_checkpoint_file,
)
from .vit_blocks import AdapterBlock

# VideoMAEv2 sizes (embed, depth, heads, mlp_ratio, patch).
ARCH_SETTINGS = {
    'small': dict(embed_dims=384, depth=12, num_heads=6, mlp_ratio=4.0, patch_size=16),
    'base': dict(embed_dims=768, depth=12, num_heads=12, mlp_ratio=4.0, patch_size=16),
    'large': dict(embed_dims=1024, depth=24, num_heads=16, mlp_ratio=4.0, patch_size=16),
    'huge': dict(embed_dims=1280, depth=32, num_heads=16, mlp_ratio=4.0, patch_size=16),
    'giant': dict(embed_dims=1408, depth=40, num_heads=16, mlp_ratio=48 / 11, patch_size=14),
}

_NORM_TYPES = (nn.LayerNorm, nn.GroupNorm, _NormBase)

_DEFAULT_INIT_CFG = [
    dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.0),
    dict(type='Constant', layer='LayerNorm', val=1.0, bias=0.0),
]


@MODELS.register_module()
class DecoupledAdapterViT(BaseModule):
    """VideoMAE / VideoMAEv2 ViT with a (mostly) frozen trunk and conv adapters.

    A drop-in for MMAction2's ``VisionTransformer`` (``vit_mae``): same
    constructor arguments and defaults, same parameter names (MMAction2
    checkpoints load unchanged) and the same outputs while the adapters are at
    their initial (identity) state. Additions:

    - an adapter after each selected block (see ``ConvAdapter`` in
      ``adapters.py``): by default STDA, whose temporal and spatial depthwise
      branches each have their own GELU, pointwise channel mixing and
      learnable scale, so that the fused adapter is not one depthwise kernel
      (``stda_fusion='cross'`` keeps the plain linear sum, which is);
    - windows of several clips: the input time T may be any multiple of
      ``num_frames``; attention runs within each clip (with the same position
      embedding for every clip) while the adapters' temporal convolutions run
      along the whole window, across clip boundaries;
    - ``causal=True``: temporal convolutions are padded on the past side only,
      so the output at time t depends on no later frame, and
      :meth:`forward_stream` gives the same features clip by clip;
    - a frozen trunk by default, gradient checkpointing, fused attention
      (``F.scaled_dot_product_attention``) and automatic conversion of
      MMAction2, official VideoMAEv2 and OpenTAD checkpoints.

    Trainable parameters with ``adapter_ratio=0.25`` and kernels 3/3, and their
    share of the whole backbone (adapters included; counted by
    ``tools/analysis/benchmark_backbone.py``, ViT-g on the meta device):

    ================  ===============  ================  =====================
    adapter           ViT-S (21.9M)    ViT-g (1011.6M)   structure
    ================  ===============  ================  =====================
    STDA decoupled    1.02M (4.45%)    44.9M (4.25%)     2 branches, own mix
    STDA cross        0.91M (3.98%)    39.9M (3.80%)     one cross kernel
    AdaTAD TIA        1.01M (4.40%)    44.7M (4.24%)     temporal + full 1x1
    joint (3,3,3)     0.92M (4.05%)    40.1M (3.81%)     one full kernel
    ================  ===============  ================  =====================

    (``adapter_type='temporal'`` is AdaTAD's temporal-informative adapter,
    TIA: same bottleneck, one depthwise temporal conv and a full ``r x r``
    1x1 conv.)

    Shapes: input ``(B, 3, T, H, W)`` with ``T = n_clips * num_frames``; tokens
    on a ``(T', H', W')`` grid with ``T' = T // tubelet_size``,
    ``H' = H // patch_size``, ``W' = W // patch_size``.

    Streaming API (online inference, requires ``causal=True``)::

        cache = None
        for clip in clips:                     # each (B, 3, num_frames, H, W)
            feat, cache = backbone.forward_stream(clip, cache)
            # feat: (B, C, num_frames // tubelet_size, H', W')

    Concatenating the ``feat`` of consecutive clips along time equals
    ``forward()`` of the whole window with ``return_feat_map=True``. The cache
    is a list (one entry per adapter) of ``(B, r, k_t - 1, H', W')`` tensors, the
    last ``k_t - 1`` bottleneck steps; its size does not grow with the clips.

    Args:
        img_size (int): Input size the position table is built for; other sizes
            interpolate it bicubically, as ``VisionTransformer`` does.
            Defaults to 224.
        patch_size (int, optional): Spatial patch size. Defaults to 16 (or the
            ``arch`` preset).
        in_channels (int): Input channels. Defaults to 3.
        embed_dims (int, optional): Token width C. Defaults to 768 (or preset).
        depth (int, optional): Number of blocks. Defaults to 12 (or preset).
        num_heads (int, optional): Attention heads. Defaults to 12 (or preset).
        mlp_ratio (float, optional): MLP hidden width / C. Defaults to 4 (or preset).
        qkv_bias (bool): Learn q and v biases. Defaults to True.
        qk_scale (float, optional): Attention scale override. Defaults to None.
        drop_rate (float): Dropout after position embedding and in blocks.
            Defaults to 0.
        attn_drop_rate (float): Attention dropout. Defaults to 0.
        drop_path_rate (float): Stochastic depth, linearly increasing with depth.
            Defaults to 0.
        norm_cfg (dict): Norm config. Defaults to ``dict(type='LN', eps=1e-6)``.
        init_values (float): Layer-scale init (0 disables it). Defaults to 0.
        use_learnable_pos_emb (bool): Learn the position table instead of the
            fixed sinusoid one. Defaults to False.
        num_frames (int): Frames per clip, the attention span. Defaults to 16.
        tubelet_size (int): Frames per temporal patch. Defaults to 2.
        use_mean_pooling (bool): Mean-pool tokens then ``fc_norm``; otherwise
            ``norm`` then the first token. Defaults to True.
        pretrained (str, optional): Checkpoint to load in :meth:`init_weights`
            (MMAction2, official VideoMAEv2 or OpenTAD format). Defaults to None.
        return_feat_map (bool): Return ``(B, C, T', H', W')`` instead of the
            pooled ``(B, C)``. Defaults to False.
        arch (str, optional): Size preset: ``'small'``, ``'base'``, ``'large'``,
            ``'huge'`` or ``'giant'``. Explicit arguments override it.
            Defaults to None (the ``VisionTransformer`` defaults, i.e. base).
        adapter_type (str, optional): ``'stda'``, ``'temporal'`` (AdaTAD-like),
            ``'joint'`` (one 3D depthwise kernel) or None (no adapter: the
            head alone trains, a linear probe). Defaults to 'stda'.
        stda_fusion (str): How ``'stda'`` fuses its branches: ``'decoupled'``
            (each branch with its own nonlinearity, pointwise mixing and
            logged scale) or ``'cross'`` (the linear sum
            ``h + temporal(h) + spatial(h)``, equal to one cross-shaped
            depthwise kernel; for the ablation). Defaults to 'decoupled'.
        adapter_index (list[int], optional): Blocks followed by an adapter
            (negative indices count from the end). Defaults to None (all).
        adapter_ratio (float): Adapter bottleneck width / C. Defaults to 0.25.
        adapter_temporal_kernel (int): Temporal kernel k_t, in tokens. Defaults to 3.
        adapter_spatial_kernel (int): Spatial kernel k_s, in tokens. Defaults to 3.
        causal (bool): Pad temporal convolutions on the past side only.
            Defaults to False.
        freeze_backbone (bool): Freeze every original ViT parameter and keep its
            norm layers in eval mode; adapters (and ``trainable``) still train.
            Defaults to True.
        trainable (list[str], optional): Parameter names or glob patterns
            (``'fc_norm'``, ``'blocks.3?.norm*'``) that train despite
            ``freeze_backbone``; a module name covers its parameters.
            Defaults to None.
        with_cp (bool): Gradient-checkpoint every block while training (trades
            compute for activation memory). Defaults to False.
        init_cfg (dict | list[dict], optional): Initialisation config; a
            ``dict(type='Pretrained', checkpoint=...)`` entry loads weights as
            ``pretrained`` does. Defaults to TruncNormal for Linear and
            Constant for LayerNorm, as ``VisionTransformer``.
        **kwargs: Ignored with a warning, as ``VisionTransformer`` ignores them.
    """

    def __init__(
        self,
        img_size: int = 224,
        patch_size: int | None = None,
        in_channels: int = 3,
        embed_dims: int | None = None,
        depth: int | None = None,
        num_heads: int | None = None,
        mlp_ratio: float | None = None,
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        norm_cfg: dict | None = None,
        init_values: float = 0.0,
        use_learnable_pos_emb: bool = False,
        num_frames: int = 16,
        tubelet_size: int = 2,
        use_mean_pooling: bool = True,
        pretrained: str | None = None,
        return_feat_map: bool = False,
        arch: str | None = None,
        adapter_type: str | None = 'stda',
        stda_fusion: str = 'decoupled',
        adapter_index: list[int] | None = None,
        adapter_ratio: float = 0.25,
        adapter_temporal_kernel: int = 3,
        adapter_spatial_kernel: int = 3,
        causal: bool = False,
        freeze_backbone: bool = True,
        trainable: list[str] | None = None,
        with_cp: bool = False,
        init_cfg: dict | list[dict] | None = _DEFAULT_INIT_CFG,
        **kwargs,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if kwargs:
            # Accepted like VisionTransformer does, but said out loud.
            print_log(
                f'{type(self).__name__} ignores unknown arguments {sorted(kwargs)}',
                logger='current',
                level=logging.WARNING,
            )
        if pretrained:
            # ``pretrained`` wins over any Pretrained entry of init_cfg.
            cfgs = self.init_cfg if isinstance(self.init_cfg, list) else [self.init_cfg]
            cfgs = [c for c in cfgs if c and c.get('type') != 'Pretrained']
            self.init_cfg = cfgs + [dict(type='Pretrained', checkpoint=pretrained)]
        if arch is not None and arch not in ARCH_SETTINGS:
            raise ValueError(f'arch must be one of {list(ARCH_SETTINGS)} or None, got {arch!r}')
        if adapter_type is not None and adapter_type not in ADAPTER_TYPES:
            raise ValueError(
                f'adapter_type must be one of {list(ADAPTER_TYPES)} or None, got {adapter_type!r}'
            )
        if stda_fusion not in STDA_FUSIONS:
            raise ValueError(
                f'stda_fusion must be one of {list(STDA_FUSIONS)}, got {stda_fusion!r}'
            )
        preset = ARCH_SETTINGS[arch or 'base']
        patch_size = patch_size if patch_size is not None else preset['patch_size']
        embed_dims = embed_dims if embed_dims is not None else preset['embed_dims']
        depth = depth if depth is not None else preset['depth']
        num_heads = num_heads if num_heads is not None else preset['num_heads']
        mlp_ratio = mlp_ratio if mlp_ratio is not None else preset['mlp_ratio']
        norm_cfg = norm_cfg or dict(type='LN', eps=1e-6)
        if num_frames % tubelet_size:
            raise ValueError(
                f'num_frames ({num_frames}) must be a multiple of tubelet_size ({tubelet_size})'
            )

        self.arch = arch
        self.embed_dims = embed_dims
        self.depth = depth
        self.patch_size = patch_size
        self.num_frames = num_frames
        self.tubelet_size = tubelet_size
        self.adapter_type = adapter_type
        self.stda_fusion = stda_fusion
        self.causal = causal
        self.freeze_backbone = freeze_backbone
        self.return_feat_map = return_feat_map

        self.patch_embed = PatchEmbed(
            in_channels=in_channels,
            embed_dims=embed_dims,
            conv_type='Conv3d',
            kernel_size=(tubelet_size, patch_size, patch_size),
            stride=(tubelet_size, patch_size, patch_size),
            padding=(0, 0, 0),
            dilation=(1, 1, 1),
        )
        grid = img_size // patch_size
        self.grid_size = (grid, grid)
        num_patches = grid * grid * (num_frames // tubelet_size)
        if use_learnable_pos_emb:
            self.pos_embed = nn.Parameter(torch.zeros(1, num_patches, embed_dims))
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        else:
            self.register_buffer('pos_embed', get_sinusoid_encoding(num_patches, embed_dims))
        self.pos_drop = nn.Dropout(p=drop_rate)

        self.adapter_index = self._resolve_adapter_index(adapter_index, depth, adapter_type)
        adapter_cfg = dict(
            adapter_type=adapter_type,
            ratio=adapter_ratio,
            temporal_kernel=adapter_temporal_kernel,
            spatial_kernel=adapter_spatial_kernel,
            causal=causal,
            fusion=stda_fusion,
        )
        # Python floats, not torch.linspace(...).item(): the model must build on
        # the meta device (parameter counts of ViT-g without allocating it).
        dpr = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]
        self.blocks = ModuleList(
            [
                AdapterBlock(
                    embed_dims=embed_dims,
                    num_heads=num_heads,
                    mlp_ratio=mlp_ratio,
                    qkv_bias=qkv_bias,
                    qk_scale=qk_scale,
                    drop_rate=drop_rate,
                    attn_drop_rate=attn_drop_rate,
                    drop_path_rate=dpr[i],
                    init_values=init_values,
                    norm_cfg=norm_cfg,
                    adapter_cfg=adapter_cfg if i in self.adapter_index else None,
                    with_cp=with_cp,
                )
                for i in range(depth)
            ]
        )
        if use_mean_pooling:
            self.norm = nn.Identity()
            self.fc_norm = build_norm_layer(norm_cfg, embed_dims)[1]
        else:
            self.norm = build_norm_layer(norm_cfg, embed_dims)[1]
            self.fc_norm = None

        self._trainable_patterns = list(trainable or [])
        self._set_requires_grad()
        self._log_param_counts()

    # ------------------------------------------------------------------ build
    @staticmethod
    def _resolve_adapter_index(
        adapter_index: list[int] | None, depth: int, adapter_type: str | None
    ) -> list[int]:
        if adapter_type is None:
            return []
        if adapter_index is None:
            return list(range(depth))
        resolved = []
        for index in adapter_index:
            if not -depth <= index < depth:
                raise ValueError(f'adapter_index {index} is out of range for depth {depth}')
            resolved.append(index % depth)
        return sorted(set(resolved))

    @staticmethod
    def _is_adapter_param(name: str) -> bool:
        return '.adapter.' in name

    @staticmethod
    def _matches(name: str, pattern: str) -> bool:
        """A glob on the parameter name; a module name covers its parameters."""
        return fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(name, pattern + '.*')

    def _set_requires_grad(self) -> None:
        names = [name for name, _ in self.named_parameters()]
        for pattern in self._trainable_patterns:
            if not any(self._matches(n, pattern) for n in names):
                raise ValueError(
                    f'trainable pattern {pattern!r} matches no parameter of {type(self).__name__}'
                )
        for name, param in self.named_parameters():
            param.requires_grad_(not self.freeze_backbone or self._trains(name))
        if self.return_feat_map and self.fc_norm is not None:
            # Feature maps skip the pooled output's norm. Left trainable, it would be
            # a parameter without gradient, which DistributedDataParallel rejects.
            self.fc_norm.requires_grad_(False)

    def _trains(self, name: str) -> bool:
        """Whether a parameter trains under ``freeze_backbone``."""
        return self._is_adapter_param(name) or any(
            self._matches(name, p) for p in self._trainable_patterns
        )

    def _log_param_counts(self) -> None:
        total = sum(p.numel() for p in self.parameters())
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        adapters = sum(p.numel() for n, p in self.named_parameters() if self._is_adapter_param(n))
        kind = self.adapter_type
        if kind == 'stda':
            kind = f'stda, {self.stda_fusion} fusion'
        print_log(
            f'{type(self).__name__}: {trainable:,} trainable / {total:,} total parameters '
            f'({100 * trainable / max(total, 1):.2f}%); adapters ({kind}, '
            f'{len(self.adapter_index)} blocks): {adapters:,}',
            logger='current',
        )

    def train(self, mode: bool = True) -> 'DecoupledAdapterViT':
        """Set train mode; frozen norm layers stay in eval mode."""
        super().train(mode)
        if mode and self.freeze_backbone:
            for module in self.modules():
                if isinstance(module, _NORM_TYPES) and not any(
                    p.requires_grad for p in module.parameters(recurse=False)
                ):
                    module.eval()
        return self

    def branch_scales(self) -> dict[str, float]:
        """Mean learnt scale of each decoupled STDA branch over the adapters.

        Returns:
            dict[str, float]: ``{'temporal': s_t, 'spatial': s_s}``, empty unless
            the adapters are STDA with decoupled fusion.
        """
        scales = [b.adapter.branch_scales() for b in self.blocks if b.adapter is not None]
        scales = [s for s in scales if s is not None]
        if not scales:
            return {}
        with torch.no_grad():
            return {
                name: float(torch.stack([s[name] for s in scales]).mean())
                for name in ('temporal', 'spatial')
            }

    def _log_branch_scales(self) -> None:
        """Publish the branch scales as ``train/stda/*_scale`` scalars.

        mmengine's ``LogProcessor`` writes every ``train/`` scalar of the message
        hub to the text log and the visualizer backends (TensorBoard,
        ``vis_data/scalars.json``), so each branch's contribution is followed
        over training without a dedicated hook.
        """
        message_hub = MessageHub.get_current_instance()
        for name, value in self.branch_scales().items():
            message_hub.update_scalar(f'train/stda/{name}_scale', value)

    # ---------------------------------------------------------------- forward
    def _pos_embed_for(self, grid_hw: tuple[int, int]) -> Tensor:
        """Position table ``(1, L, C)`` for one clip, interpolated as MMAction2 does."""
        if grid_hw == self.grid_size:
            return self.pos_embed
        pos = self.pos_embed.reshape(-1, *self.grid_size, self.embed_dims).permute(0, 3, 1, 2)
        pos = F.interpolate(pos, size=grid_hw, mode='bicubic', align_corners=False)
        return pos.permute(0, 2, 3, 1).flatten(1, 2).reshape(1, -1, self.embed_dims)

    def _check_input(self, x: Tensor) -> None:
        if x.dim() != 5:
            raise ValueError(f'expected input of shape (B, C, T, H, W), got {tuple(x.shape)}')
        frames = x.shape[2]
        if frames == 0 or frames % self.num_frames:
            raise ValueError(
                f'input has T={frames} frames; expected a positive multiple of '
                f'num_frames={self.num_frames} (one or more whole clips)'
            )

    def _embed(self, x: Tensor) -> tuple[Tensor, tuple[int, int]]:
        """Patchify; return tokens ``(B * n_clips, L, C)`` and the ``(H', W')`` grid."""
        batch_size = x.shape[0]
        n_clips = x.shape[2] // self.num_frames
        grid_hw = (x.shape[3] // self.patch_size, x.shape[4] // self.patch_size)
        tokens = self.patch_embed(x)[0]  # (B, T' * H' * W', C), time-major
        tokens = tokens.reshape(batch_size * n_clips, -1, self.embed_dims)
        tokens = tokens + self._pos_embed_for(grid_hw)
        return self.pos_drop(tokens), grid_hw

    def _run_blocks(
        self, tokens: Tensor, batch_size: int, grid_hw: tuple[int, int], cache: list | None
    ) -> tuple[Tensor, list]:
        new_cache = []
        caches = iter(cache) if cache is not None else None
        for block in self.blocks:
            block_cache = (
                next(caches) if (caches is not None and block.adapter is not None) else None
            )
            tokens, block_cache = block(tokens, batch_size, grid_hw, block_cache)
            if block.adapter is not None:
                new_cache.append(block_cache)
        return tokens, new_cache

    def _feat_map(self, tokens: Tensor, batch_size: int, grid_hw: tuple[int, int]) -> Tensor:
        tokens = self.norm(tokens).reshape(batch_size, -1, *grid_hw, self.embed_dims)
        return tokens.permute(0, 4, 1, 2, 3)

    def forward(self, x: Tensor) -> Tensor:
        """Extract features of a window of one or more clips.

        Args:
            x (Tensor): ``(B, 3, T, H, W)``, T a multiple of ``num_frames``.

        Returns:
            Tensor: ``(B, C, T', H', W')`` with ``T' = T // tubelet_size`` if
            ``return_feat_map``, else ``(B, C)`` pooled over the whole window.
        """
        self._check_input(x)
        if self.training and self.stda_fusion == 'decoupled' and self.adapter_type == 'stda':
            self._log_branch_scales()
        batch_size = x.shape[0]
        tokens, grid_hw = self._embed(x)
        tokens, _ = self._run_blocks(tokens, batch_size, grid_hw, None)
        if self.return_feat_map:
            return self._feat_map(tokens, batch_size, grid_hw)
        tokens = tokens.reshape(batch_size, -1, self.embed_dims)
        if self.fc_norm is not None:
            return self.fc_norm(tokens.mean(1))
        return self.norm(tokens)[:, 0]

    def forward_stream(self, clip: Tensor, cache: list | None = None) -> tuple[Tensor, list]:
        """Extract features of the next clip(s) of a stream (online inference).

        Several consecutive clips in one call (``T = n * num_frames``) give the
        same features and cache as ``n`` calls of one clip: attention stays
        inside each clip and the temporal branches run over the whole sequence
        after the cache. One call amortises the per-call overhead when frames
        are waiting.

        Args:
            clip (Tensor): ``(B, 3, n * num_frames, H, W)``: the next ``n >= 1``
                clips of each of the B streams.
            cache (list[Tensor | None], optional): The cache returned by the
                previous call for the same stream; None for the first clip.
                Defaults to None.

        Returns:
            tuple[Tensor, list]: The feature map ``(B, C, n * num_frames //
            tubelet_size, H', W')`` (always a map, whatever ``return_feat_map``)
            and the cache to pass with the next clip (one entry per adapter,
            constant size).
        """
        if not self.causal:
            raise ValueError(
                'forward_stream needs causal=True: a non-causal adapter looks at '
                'future frames, which a stream does not have yet'
            )
        if clip.dim() != 5 or clip.shape[2] == 0 or clip.shape[2] % self.num_frames:
            raise ValueError(
                f'forward_stream expects whole clips, of shape (B, C, n * {self.num_frames}, '
                f'H, W), got {tuple(clip.shape)}'
            )
        if cache is not None and len(cache) != len(self.adapter_index):
            raise ValueError(
                f'cache has {len(cache)} entries, expected {len(self.adapter_index)} '
                '(one per adapter); pass the cache returned by the previous call'
            )
        batch_size = clip.shape[0]
        tokens, grid_hw = self._embed(clip)
        tokens, new_cache = self._run_blocks(tokens, batch_size, grid_hw, cache)
        return self._feat_map(tokens, batch_size, grid_hw), new_cache

    # ---------------------------------------------------------------- weights
    def _split_pretrained_cfg(self) -> tuple[dict | None, list | None]:
        cfgs = self.init_cfg if isinstance(self.init_cfg, list) else [self.init_cfg]
        cfgs = [c for c in cfgs if c]
        pretrained = [c for c in cfgs if c.get('type') == 'Pretrained']
        others = [c for c in cfgs if c.get('type') != 'Pretrained']
        return (pretrained[-1] if pretrained else None), (others or None)

    def init_weights(self) -> None:
        """Apply ``init_cfg``, reset the adapters, then load any pretrained weights."""
        pretrained_cfg, other_cfgs = self._split_pretrained_cfg()
        init_cfg = self.init_cfg
        self.init_cfg = other_cfgs
        try:
            # Adapters re-initialise themselves after the Linear-wide init (their
            # own init_weights), so they still start as the identity.
            super().init_weights()
        finally:
            self.init_cfg = init_cfg
        if pretrained_cfg is not None:
            self.load_pretrained(pretrained_cfg['checkpoint'], prefix=pretrained_cfg.get('prefix'))

    def load_pretrained(self, checkpoint: str, prefix: str | None = None) -> dict[str, list[str]]:
        """Load ViT (and adapter) weights from a checkpoint file.

        Accepts MMAction2 (``state_dict``, ``backbone.`` prefix), official
        VideoMAEv2 (``model`` / ``module``; ``patch_embed.proj``, ``mlp.fc1/fc2``;
        prefixes such as ``encoder.``, ``_orig_mod.``) and OpenTAD
        (``state_dict_ema`` / ``state_dict``, ``module.backbone.model.backbone.``)
        checkpoints. OpenTAD adapters load into ``adapter_type='temporal'``.
        Classifier keys and keys outside the backbone are dropped (logged).

        Args:
            checkpoint (str): Path or URL, read by mmengine's ``CheckpointLoader``.
            prefix (str, optional): Backbone key prefix; detected when None.
                Defaults to None.

        Returns:
            dict[str, list[str]]: Keys by outcome: ``missing_adapter``,
            ``missing``, ``unexpected``, ``shape_mismatch``, ``classifier``,
            ``outside_backbone``, ``skipped_adapter``.
        """
        raw = load_checkpoint_file(checkpoint)
        state_dict = extract_state_dict(raw, checkpoint)
        state_dict, classifier, outside = convert_to_mmaction_vit(state_dict, prefix, checkpoint)
        skipped_adapter = []
        if has_opentad_adapters(state_dict):
            if self.adapter_type == 'temporal':
                state_dict = convert_opentad_adapters(state_dict)
            else:
                skipped_adapter = [k for k in state_dict if '.adapter.' in k]
                for key in skipped_adapter:
                    del state_dict[key]
        own = self.state_dict()
        mismatch = {
            k: (tuple(v.shape), tuple(own[k].shape))
            for k, v in state_dict.items()
            if k in own and own[k].shape != v.shape
        }
        for key in mismatch:
            del state_dict[key]
        result = self.load_state_dict(state_dict, strict=False)
        missing_adapter = [k for k in result.missing_keys if self._is_adapter_param(k)]
        # The fixed sinusoid table is rebuilt from the config; official
        # checkpoints do not save it.
        buffers = {'pos_embed'} if not isinstance(self.pos_embed, nn.Parameter) else set()
        missing = [
            k for k in result.missing_keys if not self._is_adapter_param(k) and k not in buffers
        ]
        report = dict(
            missing_adapter=missing_adapter,
            missing=missing,
            unexpected=list(result.unexpected_keys),
            shape_mismatch=list(mismatch),
            classifier=classifier,
            outside_backbone=outside,
            skipped_adapter=skipped_adapter,
        )
        self._log_load_report(checkpoint, report, len(state_dict), mismatch)
        return report

    def _log_load_report(
        self, checkpoint: str, report: dict, num_loaded: int, mismatch: dict
    ) -> None:
        print_log(
            f'{type(self).__name__}: loaded {num_loaded - len(report["unexpected"])} tensors '
            f'from {checkpoint}; dropped {len(report["classifier"])} classifier keys and '
            f'{len(report["outside_backbone"])} keys outside the backbone',
            logger='current',
        )
        if report['missing_adapter']:
            blocks = sorted({int(k.split('.')[1]) for k in report['missing_adapter']})
            print_log(
                f'{len(report["missing_adapter"])} adapter parameters (blocks {blocks}) are not '
                'in the checkpoint and keep their initial (identity) values',
                logger='current',
            )
        warnings = dict(
            missing=report['missing'],
            unexpected=report['unexpected'],
            skipped_adapter=report['skipped_adapter'],
        )
        for kind, keys in warnings.items():
            if keys:
                print_log(
                    f'{checkpoint}: {len(keys)} {kind.replace("_", " ")} keys: {keys}',
                    logger='current',
                    level=logging.WARNING,
                )
        if report['skipped_adapter']:
            print_log(
                f'the OpenTAD adapter weights above fit adapter_type="temporal", not '
                f'{self.adapter_type!r}; they were not loaded',
                logger='current',
                level=logging.WARNING,
            )
        for key, (ckpt_shape, model_shape) in mismatch.items():
            print_log(
                f'{checkpoint}: {key} has shape {ckpt_shape} in the checkpoint but '
                f'{model_shape} in the model; kept the model value',
                logger='current',
                level=logging.WARNING,
            )
