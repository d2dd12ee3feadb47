"""VideoMAE-style masked-autoencoder pretraining of the ViT trunk on unlabeled video."""

import torch
import torch.nn.functional as F
from mmaction.models.backbones.vit_mae import get_sinusoid_encoding
from mmaction.registry import MODELS
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModel
from torch import Tensor, nn

from ..backbones.vit_blocks import AdapterBlock


def patchify(video: Tensor, tubelet_size: int, patch_size: int) -> Tensor:
    """Cut ``(B, C, T, H, W)`` into tubelets ``(B, T' * H' * W', tubelet * p * p * C)``.

    Tubelets are ordered time-major, as the patch embedding's tokens.
    """
    b, c, t, h, w = video.shape
    tt, hh, ww = t // tubelet_size, h // patch_size, w // patch_size
    x = video.reshape(b, c, tt, tubelet_size, hh, patch_size, ww, patch_size)
    x = x.permute(0, 2, 4, 6, 3, 5, 7, 1)  # b, t', h', w', tubelet, p, p, c
    return x.reshape(b, tt * hh * ww, -1)


def unpatchify(
    patches: Tensor, grid: tuple[int, int, int], tubelet_size: int, patch_size: int
) -> Tensor:
    """Inverse of :func:`patchify`: ``(B, L, tubelet * p * p * C)`` to ``(B, C, T, H, W)``."""
    b = patches.shape[0]
    tt, hh, ww = grid
    x = patches.reshape(b, tt, hh, ww, tubelet_size, patch_size, patch_size, -1)
    x = x.permute(0, 7, 1, 4, 2, 5, 3, 6)  # b, c, t', tubelet, h', p, w', p
    return x.reshape(b, -1, tt * tubelet_size, hh * patch_size, ww * patch_size)


def tube_mask(batch_size: int, num_positions: int, num_visible: int, device) -> Tensor:
    """Random tube mask: ``(B, num_positions)`` bool, True where a position is hidden.

    The same spatial positions are hidden at every time step (VideoMAE's tube
    masking), so a masked patch cannot be copied from the neighbouring frame.
    """
    order = torch.rand(batch_size, num_positions, device=device).argsort(dim=1)
    mask = torch.ones(batch_size, num_positions, dtype=torch.bool, device=device)
    mask.scatter_(1, order[:, :num_visible], False)
    return mask


@MODELS.register_module()
class VideoMAEPretrainer(BaseModel):
    """Masked-autoencoder pretraining (VideoMAE recipe) of a ViT video trunk.

    The encoder (``backbone``) is a ViT built from the registry, normally
    ``DecoupledAdapterViT`` with ``adapter_type=None`` or MMAction2's
    ``VisionTransformer``: both share the parameter names, so the saved
    ``backbone.*`` weights load unchanged into either (``pretrained=`` or
    ``init_cfg=dict(type='Pretrained', ...)``). Per clip:

    1. tube masking hides ``mask_ratio`` of the H' x W' positions at every time
       step;
    2. the encoder's patch embedding, position table and blocks run on the
       visible tokens only;
    3. a light decoder (a projection, learned mask tokens plus a fixed sinusoid
       position table, ``decoder_depth`` blocks) predicts the pixels of every
       masked tubelet;
    4. the loss is the MSE between prediction and target on the masked tubelets,
       the target being each tubelet's pixels normalised by their own mean and
       standard deviation when ``norm_pix_loss`` (VideoMAE's default).

    Args:
        backbone (dict): Encoder config. It must expose ``patch_embed``,
            ``pos_embed``, ``blocks``, ``patch_size`` and ``embed_dims`` as
            MMAction2's ``VisionTransformer`` does; clips must have exactly its
            ``num_frames`` frames. A trunk with adapters (``DecoupledAdapterViT``
            with an ``adapter_type``) is refused: the adapters need the whole
            token grid, the encoder here sees the visible tokens only.
        mask_ratio (float): Share of spatial positions hidden, in (0, 1).
            Defaults to 0.9.
        decoder_embed_dims (int): Decoder width. Defaults to 64.
        decoder_depth (int): Decoder blocks. Defaults to 1.
        decoder_num_heads (int): Decoder attention heads. Defaults to 4.
        decoder_mlp_ratio (float): Decoder MLP width / decoder width. Defaults to 4.
        norm_pix_loss (bool): Normalise each target tubelet. Defaults to True.
        data_preprocessor (dict, optional): E.g. ``ActionDataPreprocessor`` with
            ``format_shape='NCTHW'``. Defaults to None.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(
        self,
        backbone: dict,
        mask_ratio: float = 0.9,
        decoder_embed_dims: int = 64,
        decoder_depth: int = 1,
        decoder_num_heads: int = 4,
        decoder_mlp_ratio: float = 4.0,
        norm_pix_loss: bool = True,
        data_preprocessor: dict | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if not 0 < mask_ratio < 1:
            raise ValueError(f'mask_ratio must be in (0, 1), got {mask_ratio}')
        self.backbone = MODELS.build(backbone)
        for name in ('patch_embed', 'pos_embed', 'blocks', 'patch_size', 'embed_dims'):
            if not hasattr(self.backbone, name):
                raise TypeError(
                    f'{type(self.backbone).__name__} has no {name!r}: VideoMAEPretrainer needs a '
                    'ViT with the attributes of MMAction2 VisionTransformer'
                )
        adapted = [
            i
            for i, block in enumerate(self.backbone.blocks)
            if getattr(block, 'adapter', None) is not None
        ]
        if adapted:
            # The adapters reshape a block's tokens to the (T', H', W') grid, but here
            # the blocks see only the visible tokens (T' x the visible positions of
            # H' x W'): the reshape would silently read them as fewer time steps.
            raise ValueError(
                f'{type(self.backbone).__name__} has adapters '
                f'(adapter_type={getattr(self.backbone, "adapter_type", None)!r}) after '
                f'blocks {adapted}; VideoMAEPretrainer encodes only the visible tokens, '
                'which the adapters cannot lay out on the token grid. Pretrain the trunk '
                'with adapters off (adapter_type=None, or MMAction2 VisionTransformer) '
                'and add the adapters when training the detector'
            )
        if any(not p.requires_grad for p in self.backbone.parameters()):
            raise ValueError(
                'the encoder has frozen parameters; pretraining trains the whole trunk '
                '(set freeze_backbone=False)'
            )
        conv = self.backbone.patch_embed.projection
        self.tubelet_size = conv.kernel_size[0]
        self.patch_size = self.backbone.patch_size
        self.in_channels = conv.in_channels
        self.mask_ratio = mask_ratio
        self.norm_pix_loss = norm_pix_loss
        embed_dims = self.backbone.embed_dims

        norm_cfg = dict(type='LN', eps=1e-6)
        # The trunk's own output norm is an Identity with mean pooling; the decoder
        # normalises what it receives.
        self.encoder_norm = build_norm_layer(norm_cfg, embed_dims)[1]
        self.encoder_to_decoder = nn.Linear(embed_dims, decoder_embed_dims, bias=False)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dims))
        self.decoder_blocks = nn.ModuleList(
            [
                AdapterBlock(
                    decoder_embed_dims,
                    decoder_num_heads,
                    mlp_ratio=decoder_mlp_ratio,
                    norm_cfg=norm_cfg,
                )
                for _ in range(decoder_depth)
            ]
        )
        self.decoder_norm = build_norm_layer(norm_cfg, decoder_embed_dims)[1]
        patch_dims = self.tubelet_size * self.patch_size**2 * self.in_channels
        self.decoder_pred = nn.Linear(decoder_embed_dims, patch_dims)
        self.decoder_embed_dims = decoder_embed_dims

    def init_weights(self) -> None:
        """Initialise the encoder (its own ``init_weights``) and the decoder."""
        super().init_weights()
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        for module in [self.encoder_to_decoder, self.decoder_blocks, self.decoder_pred]:
            for sub in module.modules():
                if isinstance(sub, nn.Linear):
                    nn.init.xavier_uniform_(sub.weight)
                    if sub.bias is not None:
                        nn.init.zeros_(sub.bias)

    # ---------------------------------------------------------------- forward
    def _grid(self, inputs: Tensor) -> tuple[int, int, int]:
        num_frames = getattr(self.backbone, 'num_frames', None)
        if inputs.dim() != 5:
            raise ValueError(f'expected clips (B, C, T, H, W), got {tuple(inputs.shape)}')
        _, _, t, h, w = inputs.shape
        if num_frames is not None and t != num_frames:
            raise ValueError(f'clips have {t} frames; the encoder takes num_frames={num_frames}')
        if t % self.tubelet_size or h % self.patch_size or w % self.patch_size:
            raise ValueError(
                f'clip {tuple(inputs.shape)} is not a whole number of '
                f'{self.tubelet_size}x{self.patch_size}x{self.patch_size} tubelets'
            )
        return t // self.tubelet_size, h // self.patch_size, w // self.patch_size

    def reconstruct(self, inputs: Tensor, mask: Tensor | None = None) -> dict[str, Tensor]:
        """Mask, encode the visible tokens, and predict the masked tubelets.

        Args:
            inputs (Tensor): Clips ``(B, C, T, H, W)`` (after the data preprocessor).
            mask (Tensor, optional): ``(B, H' * W')`` bool, True = hidden, with the
                same number of hidden positions in every clip. Defaults to None
                (a random tube mask of ``mask_ratio``).

        Returns:
            dict[str, Tensor]: ``pred`` ``(B, n_masked, tubelet * p * p * C)`` (in
            target units), ``target`` (same shape), ``token_mask`` ``(B, L)``
            bool over all ``L = T' * H' * W'`` tokens, and ``grid`` ``(T', H', W')``.
        """
        grid = self._grid(inputs)
        tt, hh, ww = grid
        batch_size, positions = inputs.shape[0], hh * ww
        if mask is None:
            num_visible = max(1, round(positions * (1 - self.mask_ratio)))
            mask = tube_mask(batch_size, positions, num_visible, inputs.device)
        counts = (~mask).sum(1)
        if mask.shape != (batch_size, positions) or (counts != counts[0]).any():
            raise ValueError(
                f'mask must be ({batch_size}, {positions}) with the same number of visible '
                'positions per clip'
            )
        token_mask = mask.repeat(1, tt)  # time-major tokens: position index repeats per step

        tokens = self.backbone.patch_embed(inputs)[0]  # (B, L, C)
        pos = self.backbone.pos_embed.to(tokens.dtype)
        if pos.shape[1] != tokens.shape[1]:
            raise ValueError(
                f'the encoder position table has {pos.shape[1]} tokens, the clip {tokens.shape[1]}'
                ' (pretrain at the img_size and num_frames the encoder is built for)'
            )
        tokens = tokens + pos
        channels = tokens.shape[-1]
        visible = tokens[~token_mask].reshape(batch_size, -1, channels)
        for block in self.backbone.blocks:
            # AdapterBlock takes the grid and returns (tokens, cache); MMAction2's
            # Block takes and returns tokens only.
            if isinstance(block, AdapterBlock):
                visible = block(visible, batch_size, (hh, ww))[0]
            else:
                visible = block(visible)
        visible = self.encoder_to_decoder(self.encoder_norm(visible))

        dec_pos = get_sinusoid_encoding(token_mask.shape[1], self.decoder_embed_dims)
        dec_pos = dec_pos.to(visible).expand(batch_size, -1, -1)
        num_masked = int(token_mask[0].sum())
        decoder_in = torch.cat(
            [
                visible + dec_pos[~token_mask].reshape(batch_size, -1, self.decoder_embed_dims),
                self.mask_token
                + dec_pos[token_mask].reshape(batch_size, -1, self.decoder_embed_dims),
            ],
            dim=1,
        )
        x = decoder_in
        for block in self.decoder_blocks:
            x = block(x, batch_size, (hh, ww))[0]
        pred = self.decoder_pred(self.decoder_norm(x[:, -num_masked:]))

        target = patchify(inputs, self.tubelet_size, self.patch_size)
        target = target[token_mask].reshape(batch_size, num_masked, -1)
        if self.norm_pix_loss:
            target = self.normalise_tubelets(target)
        return dict(pred=pred, target=target, token_mask=token_mask, grid=grid)

    def normalise_tubelets(self, tubelets: Tensor) -> Tensor:
        """Normalise each tubelet's values (per channel) by their mean and std."""
        x = tubelets.reshape(*tubelets.shape[:-1], -1, self.in_channels)
        mean = x.mean(dim=-2, keepdim=True)
        var = x.var(dim=-2, unbiased=True, keepdim=True)
        return ((x - mean) / (var + 1e-6).sqrt()).reshape(tubelets.shape)

    def forward(self, inputs: Tensor, data_samples=None, mode: str = 'tensor'):
        """``loss``: ``dict(loss=masked MSE)``; ``tensor``/``predict``: :meth:`reconstruct`."""
        if inputs.dim() == 6:  # (B, num_clips, C, T, H, W) from ActionDataPreprocessor
            inputs = inputs.flatten(0, 1)
        if mode == 'loss':
            out = self.reconstruct(inputs)
            return dict(loss=F.mse_loss(out['pred'], out['target']))
        if mode in ('tensor', 'predict'):
            return self.reconstruct(inputs)
        raise ValueError(f"mode must be 'loss', 'tensor' or 'predict', got {mode!r}")
