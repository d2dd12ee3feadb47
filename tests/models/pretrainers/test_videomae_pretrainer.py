"""VideoMAEPretrainer: tube masking, visible-only encoder, masked-tubelet loss, export."""

import importlib.util
import os.path as osp

import pytest
import torch
from mmaction.registry import MODELS
from mmengine.registry import init_default_scope

import mmstda  # noqa: F401
from mmstda.models.pretrainers.videomae_pretrainer import patchify, unpatchify

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

# A tiny trunk: 16 px, 8 px patches (2x2 grid), 4 frames, tubelets of 2.
ENCODER = dict(
    type='DecoupledAdapterViT',
    img_size=16,
    patch_size=8,
    embed_dims=32,
    depth=2,
    num_heads=2,
    num_frames=4,
    adapter_type=None,
    freeze_backbone=False,
)


def build(mask_ratio=0.5, **encoder):
    init_default_scope('mmaction')
    model = MODELS.build(
        dict(
            type='VideoMAEPretrainer',
            backbone={**ENCODER, **encoder},
            mask_ratio=mask_ratio,
            decoder_embed_dims=16,
            decoder_num_heads=2,
        )
    )
    model.init_weights()
    return model


def test_patchify_orders_tubelets_like_the_patch_embedding():
    video = torch.zeros(1, 3, 4, 16, 16)
    video[0, :, 3, 9, 2] = 1.0  # time step 3 -> tubelet 1; row 9 -> 1; column 2 -> 0
    patches = patchify(video, tubelet_size=2, patch_size=8)
    assert patches.shape == (1, 2 * 2 * 2, 2 * 8 * 8 * 3)
    assert patches.abs().sum(-1).nonzero()[:, 1].tolist() == [1 * 4 + 1 * 2 + 0]
    model = build()
    tokens = model.backbone.patch_embed(video)[0] - model.backbone.patch_embed(video * 0)[0]
    assert tokens.abs().sum(-1).nonzero()[:, 1].tolist() == [6]
    torch.testing.assert_close(unpatchify(patches, (2, 2, 2), 2, 8), video)


def test_tube_masking_hides_the_same_positions_at_every_time_step():
    torch.manual_seed(0)
    out = build(mask_ratio=0.75).reconstruct(torch.randn(3, 3, 4, 16, 16))
    per_step = out['token_mask'].reshape(3, 2, 4)  # (B, T', H' * W')
    assert torch.equal(per_step[:, 0], per_step[:, 1])
    assert per_step[:, 0].sum(1).tolist() == [3, 3, 3]  # 1 of 4 positions visible
    assert out['pred'].shape == out['target'].shape == (3, 3 * 2, 2 * 8 * 8 * 3)


def test_prediction_depends_on_visible_tubelets_only():
    model = build().eval()
    mask = torch.tensor([[True, False, True, False]])  # hide positions 0 and 2
    video = torch.randn(1, 3, 4, 16, 16)
    hidden_changed = video.clone()
    hidden_changed[..., :8, :8] += 5.0  # position 0 (top left) at every time step
    visible_changed = video.clone()
    visible_changed[..., :8, 8:] += 5.0  # position 1 (top right)
    with torch.no_grad():
        base = model.reconstruct(video, mask)
        hidden = model.reconstruct(hidden_changed, mask)
        visible = model.reconstruct(visible_changed, mask)
    torch.testing.assert_close(hidden['pred'], base['pred'])
    assert not torch.allclose(hidden['target'], base['target'])
    assert not torch.allclose(visible['pred'], base['pred'])


def test_targets_are_normalised_per_tubelet_and_channel():
    model = build()
    tubelets = torch.rand(2, 5, 2 * 8 * 8 * 3) * 40 + 7
    normalised = model.normalise_tubelets(tubelets).reshape(2, 5, -1, 3)
    torch.testing.assert_close(normalised.mean(2), torch.zeros(2, 5, 3), atol=1e-4, rtol=0)
    torch.testing.assert_close(normalised.std(2), torch.ones(2, 5, 3), atol=1e-3, rtol=0)


def test_loss_falls_on_a_fixed_batch():
    torch.manual_seed(0)
    model = build()
    video = torch.randn(4, 3, 4, 16, 16).cumsum(2)  # smooth in time: predictable
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        torch.manual_seed(1)  # the same masks every step
        loss = model(video, mode='loss')['loss']
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_bad_inputs_are_named():
    model = build()
    with pytest.raises(ValueError, match='num_frames=4'):
        model.reconstruct(torch.randn(1, 3, 8, 16, 16))
    with pytest.raises(ValueError, match='mask_ratio'):
        build(mask_ratio=1.0)
    with pytest.raises(ValueError, match='freeze_backbone=False'):
        build(freeze_backbone=True)


@pytest.mark.parametrize('adapter_type', ['stda', 'temporal'])
def test_a_trunk_with_adapters_is_refused(adapter_type):
    # The encoder sees the visible tokens only: 2 of the 4 positions at mask_ratio
    # 0.5, so an adapter reshaping them to the 2 x 2 grid would read 1 time step
    # where there are 2.
    with pytest.raises(
        ValueError,
        match=rf"DecoupledAdapterViT has adapters \(adapter_type='{adapter_type}'\) after "
        r'blocks \[1\].*adapter_type=None',
    ):
        build(adapter_type=adapter_type, adapter_index=[1])


def test_the_trunk_without_adapters_still_pretrains():
    torch.manual_seed(0)
    model = build(adapter_type=None)
    assert all(getattr(block, 'adapter', None) is None for block in model.backbone.blocks)
    loss = model(torch.randn(2, 3, 4, 16, 16), mode='loss')['loss']
    assert loss.isfinite() and loss > 0
    loss.backward()
    assert model.backbone.blocks[0].attn.qkv.weight.grad is not None


def _export_tool():
    spec = importlib.util.spec_from_file_location(
        'export_pretrained_backbone', osp.join(REPO_ROOT, 'tools', 'export_pretrained_backbone.py')
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_exported_encoder_loads_unchanged_into_both_vits(tmp_path):
    model = build()
    src, dst = tmp_path / 'iter_1.pth', tmp_path / 'backbone.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(iter=1)), src)
    _export_tool().export_backbone(str(src), str(dst))
    saved = torch.load(dst, weights_only=True)
    assert all(k.startswith('backbone.') for k in saved['state_dict'])
    assert not any('decoder' in k or 'mask_token' in k for k in saved['state_dict'])

    shape = {k: ENCODER[k] for k in ('img_size', 'patch_size', 'embed_dims', 'depth', 'num_heads')}
    adapted = MODELS.build(
        dict(type='DecoupledAdapterViT', num_frames=4, pretrained=str(dst), **shape)
    )
    adapted.init_weights()
    report = adapted.load_pretrained(str(dst))
    assert report['missing'] == [] and report['unexpected'] == []
    assert report['missing_adapter']  # the adapters are new: identity at the start
    mmaction_vit = MODELS.build(
        dict(
            type='mmaction.VisionTransformer',
            num_frames=4,
            init_cfg=dict(type='Pretrained', checkpoint=str(dst), prefix='backbone.'),
            **shape,
        )
    )
    mmaction_vit.init_weights()
    reference = model.backbone.state_dict()
    for name, value in mmaction_vit.state_dict().items():
        torch.testing.assert_close(value, reference[name], msg=name)
        torch.testing.assert_close(adapted.state_dict()[name], reference[name], msg=name)
