"""Transformer blocks with the parameter names of MMAction2's ``vit_mae`` blocks.

Not registered. They differ from ``mmaction.models.backbones.vit_mae`` in three
ways: attention uses ``F.scaled_dot_product_attention`` (fused kernels, no
explicit ``(N, N)`` matrix kept for backward), an optional adapter runs after the
block, and the block can be gradient-checkpointed.
"""

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks import DropPath
from mmcv.cnn.bricks.transformer import FFN
from mmengine.model import BaseModule
from torch import Tensor, nn

from .adapters import ConvAdapter


class SDPAttention(BaseModule):
    """Multi-head self-attention with q/v biases (no k bias), as in VideoMAE.

    Args:
        embed_dims (int): Token width C.
        num_heads (int): Attention heads. Defaults to 8.
        qkv_bias (bool): Learn ``q_bias`` and ``v_bias``. Defaults to True.
        qk_scale (float, optional): Overrides ``head_dim ** -0.5``. Defaults to None.
        attn_drop_rate (float): Dropout on attention weights. Defaults to 0.
        drop_rate (float): Dropout on the output. Defaults to 0.
    """

    def __init__(
        self,
        embed_dims: int,
        num_heads: int = 8,
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        attn_drop_rate: float = 0.0,
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.scale = qk_scale or (embed_dims // num_heads) ** -0.5
        if qkv_bias:
            self.q_bias = nn.Parameter(torch.zeros(embed_dims))
            self.v_bias = nn.Parameter(torch.zeros(embed_dims))
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=False)
        self.attn_drop_rate = attn_drop_rate
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(drop_rate)

    def forward(self, x: Tensor) -> Tensor:
        """Attend within each sequence.

        Args:
            x (Tensor): ``(N_seq, L, C)`` tokens, one clip per sequence.

        Returns:
            Tensor: ``(N_seq, L, C)``.
        """
        n_seq, length, _ = x.shape
        if hasattr(self, 'q_bias'):
            bias = torch.cat((self.q_bias, torch.zeros_like(self.v_bias), self.v_bias))
            qkv = F.linear(x, self.qkv.weight, bias)
        else:
            qkv = self.qkv(x)
        q, k, v = qkv.reshape(n_seq, length, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop_rate if self.training else 0.0, scale=self.scale
        )
        out = out.transpose(1, 2).reshape(n_seq, length, -1)
        return self.proj_drop(self.proj(out))


class AdapterBlock(BaseModule):
    """ViT block (pre-norm attention + MLP) followed by an optional adapter.

    Attention and MLP see one clip per sequence; the adapter sees the whole
    window, since its temporal convolution crosses clip boundaries.

    Args:
        embed_dims (int): Token width C.
        num_heads (int): Attention heads.
        mlp_ratio (float): MLP hidden width / C. Defaults to 4.
        qkv_bias (bool): Learn q/v biases. Defaults to True.
        qk_scale (float, optional): Attention scale override. Defaults to None.
        drop_rate (float): Output dropout. Defaults to 0.
        attn_drop_rate (float): Attention dropout. Defaults to 0.
        drop_path_rate (float): Stochastic depth rate. Defaults to 0.
        init_values (float): Layer-scale init; 0 disables layer scale. Defaults to 0.
        norm_cfg (dict): Norm layer config. Defaults to ``dict(type='LN', eps=1e-6)``.
        adapter_cfg (dict, optional): Keyword arguments of :class:`ConvAdapter`,
            or None for no adapter. Defaults to None.
        with_cp (bool): Gradient-checkpoint this block while training.
            Defaults to False.
    """

    def __init__(
        self,
        embed_dims: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        init_values: float = 0.0,
        norm_cfg: dict | None = None,
        adapter_cfg: dict | None = None,
        with_cp: bool = False,
    ) -> None:
        super().__init__()
        norm_cfg = norm_cfg or dict(type='LN', eps=1e-6)
        self.with_cp = with_cp
        self.norm1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = SDPAttention(
            embed_dims,
            num_heads=num_heads,
            qkv_bias=qkv_bias,
            qk_scale=qk_scale,
            attn_drop_rate=attn_drop_rate,
            drop_rate=drop_rate,
        )
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        self.norm2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.mlp = FFN(
            embed_dims=embed_dims,
            feedforward_channels=int(embed_dims * mlp_ratio),
            act_cfg=dict(type='GELU'),
            ffn_drop=drop_rate,
            add_identity=False,
        )
        # Same condition as MMAction2 (a float > 0), so checkpoints match key for key.
        if isinstance(init_values, float) and init_values > 0:
            self.gamma_1 = nn.Parameter(init_values * torch.ones(embed_dims))
            self.gamma_2 = nn.Parameter(init_values * torch.ones(embed_dims))
        self.adapter = ConvAdapter(embed_dims, **adapter_cfg) if adapter_cfg is not None else None

    def _forward(
        self, x: Tensor, batch_size: int, grid_hw: tuple[int, int], cache: Tensor | None
    ) -> tuple[Tensor, Tensor | None]:
        if hasattr(self, 'gamma_1'):
            x = x + self.drop_path(self.gamma_1 * self.attn(self.norm1(x)))
            x = x + self.drop_path(self.gamma_2 * self.mlp(self.norm2(x)))
        else:
            x = x + self.drop_path(self.attn(self.norm1(x)))
            x = x + self.drop_path(self.mlp(self.norm2(x)))
        if self.adapter is None:
            return x, None
        return self.adapter(x, batch_size, grid_hw, cache)

    def forward(
        self,
        x: Tensor,
        batch_size: int,
        grid_hw: tuple[int, int],
        cache: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """Run the block, then the adapter.

        Args:
            x (Tensor): ``(B * n_clips, L, C)`` tokens, one clip per sequence.
            batch_size (int): B.
            grid_hw (tuple[int, int]): ``(H', W')`` token grid.
            cache (Tensor, optional): Adapter stream cache. Defaults to None.

        Returns:
            tuple[Tensor, Tensor | None]: Tokens ``(B * n_clips, L, C)`` and the
            adapter's new cache (None without a causal adapter).
        """
        if self.with_cp and self.training and torch.is_grad_enabled():
            # Non-reentrant checkpointing works when the input does not require
            # grad (frozen layers below) and with the tuple output.
            return cp.checkpoint(self._forward, x, batch_size, grid_hw, cache, use_reentrant=False)
        return self._forward(x, batch_size, grid_hw, cache)
