import os.path as osp
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from mmaction.models.backbones.vit_mae import VisionTransformer
from mmengine.runner.checkpoint import load_checkpoint

import mmstda  # noqa: F401
from mmstda.models.backbones import DecoupledAdapterViT

TINY = dict(img_size=32, patch_size=8, embed_dims=32, depth=2, num_heads=2, num_frames=4)
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


@pytest.fixture
def reference() -> VisionTransformer:
    torch.manual_seed(0)
    model = VisionTransformer(**TINY).eval()
    with torch.no_grad():  # non-trivial norms, so a norm left unloaded shows
        for name, param in model.named_parameters():
            if 'norm' in name:
                param.add_(torch.rand(param.shape))
    return model


def official_state(reference: VisionTransformer) -> dict:
    """The reference's weights under the official VideoMAEv2 names, no pos_embed."""
    renames = (
        ('patch_embed.projection.', 'patch_embed.proj.'),
        ('mlp.layers.0.0.', 'mlp.fc1.'),
        ('mlp.layers.1.', 'mlp.fc2.'),
    )
    state = {}
    for key, value in reference.state_dict().items():
        if key == 'pos_embed':
            continue
        for old, new in renames:
            key = key.replace(old, new)
        state[key] = value.clone()
    return state


def assert_same_output(model: DecoupledAdapterViT, reference: VisionTransformer) -> None:
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), reference(x), atol=1e-4, rtol=0)


def test_mmaction_checkpoint_through_init_cfg(tmp_path, reference):
    state = {f'backbone.{k}': v for k, v in reference.state_dict().items()}
    state['cls_head.fc_cls.weight'] = torch.zeros(5, 32)
    path = str(tmp_path / 'mmaction.pth')
    torch.save(dict(state_dict=state), path)
    model = DecoupledAdapterViT(**TINY, init_cfg=dict(type='Pretrained', checkpoint=path))
    model.init_weights()
    assert_same_output(model, reference)


def test_pretrained_entry_of_init_cfg_list_with_explicit_prefix(tmp_path, reference):
    state = {f'backbone.{k}': v for k, v in reference.state_dict().items()}
    path = str(tmp_path / 'mmaction.pth')
    torch.save(dict(state_dict=state), path)
    init_cfg = [
        dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.0),
        dict(type='Pretrained', checkpoint=path, prefix='backbone.'),
    ]
    model = DecoupledAdapterViT(**TINY, init_cfg=init_cfg)
    model.init_weights()
    # Pretrained weights win over the Linear init, and adapters stay the identity.
    assert_same_output(model, reference)
    assert torch.count_nonzero(model.blocks[0].adapter.up_proj.weight) == 0


@pytest.mark.parametrize(
    'container, prefix',
    [('model', ''), ('module', 'encoder.'), ('model', '_orig_mod.'), ('model', 'backbone.')],
)
def test_official_videomaev2_checkpoint(tmp_path, reference, container, prefix):
    state = {prefix + k: v for k, v in official_state(reference).items()}
    state['head.weight'] = torch.zeros(5, 32)
    state['head.bias'] = torch.zeros(5)
    if prefix == 'encoder.':  # a pre-training file also holds the decoder
        state['decoder.blocks.0.norm1.weight'] = torch.ones(32)
    path = str(tmp_path / 'official.pth')
    torch.save({container: state}, path)
    model = DecoupledAdapterViT(**TINY, pretrained=path)
    model.init_weights()
    assert_same_output(model, reference)
    report = model.load_pretrained(path)
    assert sorted(report['classifier']) == ['head.bias', 'head.weight']
    assert report['missing'] == [] and report['unexpected'] == []  # pos_embed is rebuilt
    decoder = ['decoder.blocks.0.norm1.weight'] if prefix == 'encoder.' else []
    assert report['outside_backbone'] == decoder
    # 15 tensors per decoupled stda adapter: 9 as in 'cross', plus 2 mixes and 2 scales
    assert len(report['missing_adapter']) == 2 * 15


def opentad_adapter_state(hidden: int = 8, embed: int = 32, blocks=(1,)) -> dict:
    gen = torch.Generator().manual_seed(3)
    state = {}
    for index in blocks:
        prefix = f'blocks.{index}.adapter.'
        shapes = {
            'down_proj.weight': (hidden, embed),
            'down_proj.bias': (hidden,),
            'dwconv.weight': (hidden, 1, 3),
            'dwconv.bias': (hidden,),
            'conv.weight': (hidden, hidden, 1),
            'conv.bias': (hidden,),
            'up_proj.weight': (embed, hidden),
            'up_proj.bias': (embed,),
            'gamma': (1,),
        }
        for name, shape in shapes.items():
            state[prefix + name] = torch.randn(shape, generator=gen) * 0.3
    return state


def adatad_adapter_reference(x: torch.Tensor, weights: dict, grid_thw: tuple) -> torch.Tensor:
    """OpenTAD's temporal adapter written out with Conv1d over (B*H*W, r, T)."""
    t, h, w = grid_thw
    hidden = F.gelu(F.linear(x, weights['down_proj.weight'], weights['down_proj.bias']))
    seq = hidden.reshape(-1, t, h, w, hidden.shape[-1]).permute(0, 2, 3, 4, 1).flatten(0, 2)
    seq = F.conv1d(
        seq, weights['dwconv.weight'], weights['dwconv.bias'], padding=1, groups=seq.shape[1]
    )
    seq = F.conv1d(seq, weights['conv.weight'], weights['conv.bias'])
    seq = seq.unflatten(0, (-1, h, w)).permute(0, 4, 1, 2, 3).reshape(hidden.shape)
    out = F.linear(hidden + seq, weights['up_proj.weight'], weights['up_proj.bias'])
    return x + out * weights['gamma']


@pytest.mark.parametrize('use_ema', [False, True])
def test_opentad_checkpoint_into_temporal_adapter(tmp_path, reference, use_ema):
    adapters = opentad_adapter_state()
    vit = {**reference.state_dict(), **adapters}
    prefix = 'module.backbone.model.backbone.'
    state = {prefix + k: v for k, v in vit.items()}
    state['module.neck.conv.weight'] = torch.zeros(2, 2)
    checkpoint = dict(state_dict={k: torch.zeros_like(v) for k, v in state.items()})
    if use_ema:
        checkpoint['state_dict_ema'] = state
    else:
        checkpoint['state_dict'] = state
    path = str(tmp_path / 'opentad.pth')
    torch.save(checkpoint, path)

    model = DecoupledAdapterViT(**TINY, adapter_type='temporal', adapter_index=[1])
    report = model.load_pretrained(path)
    assert report['missing'] == [] and report['unexpected'] == []
    assert report['missing_adapter'] == []
    assert report['outside_backbone'] == ['module.neck.conv.weight']

    # Block 1's adapter now computes exactly OpenTAD's adapter (non-causal).
    tokens = torch.randn(1, 2 * 4 * 4, 32)
    weights = {k.split('adapter.')[1]: v for k, v in adapters.items()}
    with torch.no_grad():
        ours, _ = model.blocks[1].adapter(tokens, 1, (4, 4))
    expected = adatad_adapter_reference(tokens, weights, (2, 4, 4))
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=0)


def test_opentad_adapters_are_skipped_for_other_adapter_types(tmp_path, reference):
    vit = {**reference.state_dict(), **opentad_adapter_state()}
    path = str(tmp_path / 'opentad.pth')
    torch.save(
        dict(state_dict={f'module.backbone.model.backbone.{k}': v for k, v in vit.items()}), path
    )
    model = DecoupledAdapterViT(**TINY, adapter_type='stda')
    report = model.load_pretrained(path)
    assert len(report['skipped_adapter']) == 9
    assert torch.count_nonzero(model.blocks[1].adapter.up_proj.weight) == 0
    assert_same_output(model, reference)


def test_missing_and_unexpected_keys_are_reported(tmp_path, reference):
    state = dict(reference.state_dict())
    del state['fc_norm.weight']
    state['blocks.0.extra.weight'] = torch.zeros(3)
    state['pos_embed'] = torch.zeros(1, 7, 32)  # built for another size
    path = str(tmp_path / 'partial.pth')
    torch.save(dict(state_dict=state), path)
    model = DecoupledAdapterViT(**TINY)
    report = model.load_pretrained(path)
    assert report['missing'] == ['fc_norm.weight']
    assert report['unexpected'] == ['blocks.0.extra.weight']
    assert report['shape_mismatch'] == ['pos_embed']
    torch.testing.assert_close(model.pos_embed, reference.pos_embed)


def test_checkpoint_without_vit_is_rejected(tmp_path):
    path = str(tmp_path / 'other.pth')
    torch.save(dict(state_dict={'layer.weight': torch.zeros(2)}), path)
    with pytest.raises(KeyError, match='other.pth: expected exactly one ViT patch embedding key'):
        DecoupledAdapterViT(**TINY).load_pretrained(path)


def test_convert_tool_output_loads_into_stock_vit(tmp_path, reference):
    src, dst = str(tmp_path / 'official.pth'), str(tmp_path / 'out' / 'mmaction.pth')
    state = {f'_orig_mod.{k}': v for k, v in official_state(reference).items()}
    state['head.weight'] = torch.ones(5, 32)
    torch.save(dict(module=state), src)
    subprocess.run(
        [sys.executable, 'tools/convert_videomaev2.py', src, dst], check=True, cwd=REPO_ROOT
    )
    converted = torch.load(dst, weights_only=True)
    assert torch.equal(converted['state_dict']['cls_head.fc_cls.weight'], torch.ones(5, 32))
    stock = VisionTransformer(**TINY).eval()
    load_checkpoint(stock, dst, revise_keys=[(r'^backbone\.', '')])
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(stock(x), reference(x), atol=1e-5, rtol=0)
