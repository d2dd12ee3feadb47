import pytest
import torch
from mmaction.models.backbones.vit_mae import VisionTransformer
from mmaction.registry import MODELS

import mmstda  # noqa: F401
from mmstda.models.backbones import DecoupledAdapterViT

# A 2-block ViT at 32 px: 4-frame clips, 2 x 4 x 4 tokens per clip.
TINY = dict(img_size=32, patch_size=8, embed_dims=32, depth=2, num_heads=2, num_frames=4)


def randomize_adapters(model: torch.nn.Module, seed: int = 0) -> None:
    """Give every adapter parameter non-trivial values (their init is the identity)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if '.adapter.' in name:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.3)


def paired_models(**cfg) -> tuple[VisionTransformer, DecoupledAdapterViT]:
    torch.manual_seed(0)
    reference = VisionTransformer(**cfg).eval()
    ours = DecoupledAdapterViT(**cfg).eval()
    result = ours.load_state_dict(reference.state_dict(), strict=False)
    assert result.unexpected_keys == []
    assert all('.adapter.' in k for k in result.missing_keys)
    return reference, ours


@pytest.mark.parametrize('return_feat_map', [False, True])
@pytest.mark.parametrize(
    'extra, input_hw',
    [
        (dict(), (32, 32)),
        (dict(), (48, 40)),  # not img_size: bicubic position interpolation
        (dict(use_mean_pooling=False, init_values=0.1, qkv_bias=False), (32, 32)),
        # Giant layout: patch 14, mlp_ratio 48/11, 160 px input, table built for 224 px.
        (dict(img_size=224, patch_size=14, mlp_ratio=48 / 11, depth=1), (160, 160)),
    ],
)
def test_initial_adapters_reproduce_mmaction_vit(extra, input_hw, return_feat_map):
    cfg = {**TINY, **extra, 'return_feat_map': return_feat_map}
    reference, ours = paired_models(**cfg)
    x = torch.randn(2, 3, 4, *input_hw)
    with torch.no_grad():
        expected, actual = reference(x), ours(x)
    assert actual.shape == expected.shape
    torch.testing.assert_close(actual, expected, atol=1e-4, rtol=0)


def test_same_parameter_names_as_mmaction_vit_plus_adapters():
    reference = VisionTransformer(**TINY, init_values=0.1)
    ours = DecoupledAdapterViT(**TINY, init_values=0.1)
    own = {k for k in ours.state_dict() if '.adapter.' not in k}
    assert own == set(reference.state_dict())


def test_arch_preset_and_explicit_override():
    with torch.device('meta'):
        small = DecoupledAdapterViT(arch='small')
        wide = DecoupledAdapterViT(arch='small', embed_dims=48, num_heads=4, depth=2)
        default = DecoupledAdapterViT()
    assert (small.embed_dims, small.depth, small.blocks[0].attn.num_heads) == (384, 12, 6)
    assert (wide.embed_dims, wide.depth, wide.blocks[0].attn.num_heads) == (48, 2, 4)
    assert wide.patch_size == 16
    assert (default.embed_dims, default.depth) == (768, 12)  # VisionTransformer defaults
    with pytest.raises(ValueError, match="arch must be one of .* got 'tiny'"):
        DecoupledAdapterViT(arch='tiny')


def test_giant_parameter_counts_on_meta_device():
    with torch.device('meta'):
        plain = DecoupledAdapterViT(arch='giant', adapter_type=None)
        stda = DecoupledAdapterViT(arch='giant')
    total = sum(p.numel() for p in plain.parameters())
    # 1011.6M without head, as published for VideoMAEv2-g.
    assert round(total / 1e6, 1) == 1011.6
    assert plain.patch_size == 14 and plain.grid_size == (16, 16)
    trainable = sum(p.numel() for p in stda.parameters() if p.requires_grad)
    assert trainable / total <= 0.05
    hidden = stda.blocks[0].adapter.hidden_dims
    assert hidden == 352  # round(0.25 * 1408)


@pytest.mark.parametrize('arch', ['small', 'base', 'large', 'huge', 'giant'])
@pytest.mark.parametrize('adapter_type, stda_fusion', [('stda', 'decoupled'), ('stda', 'cross')])
def test_adapters_stay_within_five_percent_of_the_trunk(arch, adapter_type, stda_fusion):
    with torch.device('meta'):
        trunk = sum(
            p.numel() for p in DecoupledAdapterViT(arch=arch, adapter_type=None).parameters()
        )
        model = DecoupledAdapterViT(arch=arch, adapter_type=adapter_type, stda_fusion=stda_fusion)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable / trunk <= 0.05  # the stricter share: of the trunk without adapters


def test_registered_and_buildable_from_config():
    model = MODELS.build(dict(type='DecoupledAdapterViT', **TINY, adapter_type='temporal'))
    assert isinstance(model, DecoupledAdapterViT)
    assert model.adapter_type == 'temporal'


@pytest.mark.parametrize('return_feat_map, expected', [(True, (2, 32, 6, 4, 4)), (False, (2, 32))])
def test_long_window_shapes(return_feat_map, expected):
    model = DecoupledAdapterViT(**TINY, return_feat_map=return_feat_map).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 12, 32, 32))  # 3 clips of 4 frames
    assert out.shape == expected


def test_long_window_rejects_partial_clip():
    model = DecoupledAdapterViT(**TINY)
    with pytest.raises(
        ValueError, match='T=6 frames; expected a positive multiple of num_frames=4'
    ):
        model(torch.randn(1, 3, 6, 32, 32))


def test_attention_stays_within_clips_without_adapters():
    # With no adapter, each clip is processed independently: the window's
    # feature map is the clips' feature maps side by side.
    model = DecoupledAdapterViT(**TINY, adapter_type=None, return_feat_map=True).eval()
    x = torch.randn(1, 3, 8, 32, 32)
    with torch.no_grad():
        whole = model(x)
        parts = torch.cat([model(x[:, :, :4]), model(x[:, :, 4:])], dim=2)
    torch.testing.assert_close(whole, parts, atol=1e-5, rtol=0)


def test_adapter_temporal_conv_crosses_clip_boundaries():
    model = DecoupledAdapterViT(**TINY, return_feat_map=True).eval()
    randomize_adapters(model)
    x = torch.randn(1, 3, 8, 32, 32)
    x_changed = x.clone()
    x_changed[:, :, 4:] += 1.0  # second clip only
    with torch.no_grad():
        first, first_changed = model(x)[:, :, :2], model(x_changed)[:, :, :2]
    # Non-causal: the first clip looks one step ahead, into the second clip.
    assert (first - first_changed).abs().max() > 1e-3


@pytest.mark.parametrize(
    'adapter_type, stda_fusion',
    [('stda', 'decoupled'), ('stda', 'cross'), ('temporal', 'cross'), ('joint', 'cross')],
)
def test_causal_output_ignores_later_clips(adapter_type, stda_fusion):
    model = DecoupledAdapterViT(
        **TINY,
        adapter_type=adapter_type,
        stda_fusion=stda_fusion,
        causal=True,
        return_feat_map=True,
    ).eval()
    randomize_adapters(model)
    x = torch.randn(1, 3, 12, 32, 32)
    x_changed = x.clone()
    x_changed[:, :, 4:] = torch.randn(1, 3, 8, 32, 32)  # clips 2 and 3
    with torch.no_grad():
        out, out_changed = model(x), model(x_changed)
    torch.testing.assert_close(out[:, :, :2], out_changed[:, :, :2], atol=1e-6, rtol=0)
    assert (out[:, :, 2:] - out_changed[:, :, 2:]).abs().max() > 1e-3


@pytest.mark.parametrize('adapter_type', ['stda', 'temporal', 'joint', None])
def test_gradients_reach_only_adapters(adapter_type):
    model = DecoupledAdapterViT(**TINY, adapter_type=adapter_type).train()
    randomize_adapters(model)
    x = torch.randn(2, 3, 4, 32, 32, requires_grad=adapter_type is None)
    model(x).square().sum().backward()
    for name, param in model.named_parameters():
        if '.adapter.' in name:
            assert param.grad is not None and param.grad.abs().sum() > 0, name
        else:
            assert not param.requires_grad and param.grad is None, name
    # Frozen norms stay in eval mode while the model trains.
    assert not model.blocks[0].norm1.training and not model.fc_norm.training
    assert model.blocks[0].attn.training


def test_trainable_patterns_unfreeze_named_parameters():
    model = DecoupledAdapterViT(**TINY, trainable=['fc_norm', 'blocks.1.norm*'])
    trainable = {n for n, p in model.named_parameters() if p.requires_grad and '.adapter.' not in n}
    assert trainable == {
        'fc_norm.weight',
        'fc_norm.bias',
        'blocks.1.norm1.weight',
        'blocks.1.norm1.bias',
        'blocks.1.norm2.weight',
        'blocks.1.norm2.bias',
    }
    model.train()
    assert model.fc_norm.training and not model.blocks[0].norm1.training
    with pytest.raises(ValueError, match="trainable pattern 'neck' matches no parameter"):
        DecoupledAdapterViT(**TINY, trainable=['neck'])


def test_unfrozen_backbone_trains_everything():
    model = DecoupledAdapterViT(**TINY, freeze_backbone=False)
    assert all(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize('adapter_type', ['stda', 'temporal', 'joint'])
def test_each_adapter_type_trains_one_step_with_and_without_checkpointing(adapter_type):
    grads = {}
    for with_cp in (False, True):
        torch.manual_seed(0)
        model = DecoupledAdapterViT(**TINY, adapter_type=adapter_type, with_cp=with_cp).train()
        randomize_adapters(model)
        frozen_before = model.blocks[0].attn.qkv.weight.clone()
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
        x = torch.randn(2, 3, 8, 32, 32, generator=torch.Generator().manual_seed(1))
        model(x).square().sum().backward()
        grads[with_cp] = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
        up_before = model.blocks[0].adapter.up_proj.weight.clone()
        optimizer.step()
        assert not torch.equal(model.blocks[0].adapter.up_proj.weight, up_before)
        assert torch.equal(model.blocks[0].attn.qkv.weight, frozen_before)
    for name, grad in grads[False].items():
        torch.testing.assert_close(grads[True][name], grad, atol=1e-5, rtol=1e-4)


def test_init_weights_keeps_adapters_at_identity():
    model = DecoupledAdapterViT(**TINY)
    model.init_weights()
    for block in model.blocks:
        assert torch.count_nonzero(block.adapter.up_proj.weight) == 0
        assert torch.count_nonzero(block.adapter.up_proj.bias) == 0
        assert block.adapter.gamma.item() == 1.0
    # The default init_cfg did run (TruncNormal on the ViT's Linear layers).
    assert model.blocks[0].attn.qkv.weight.std() < 0.05


def test_adapter_index_selects_blocks():
    model = DecoupledAdapterViT(**TINY, adapter_index=[-1])
    assert model.blocks[0].adapter is None and model.blocks[1].adapter is not None
    with pytest.raises(ValueError, match='adapter_index 2 is out of range for depth 2'):
        DecoupledAdapterViT(**TINY, adapter_index=[2])
    with pytest.raises(ValueError, match="adapter_type must be one of .* got 'lora'"):
        DecoupledAdapterViT(**TINY, adapter_type='lora')
