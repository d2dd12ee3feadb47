"""The shipped pretrained tiny trunk loads, weights only, into the demo's backbone."""

import os.path as osp

import torch
from mmaction.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmstda  # noqa: F401

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CHECKPOINT = 'checkpoints/videomae_vit-tiny_synthetic-unlabeled.pth'


def demo_backbone_cfg() -> dict:
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'stda_demo.py'))
    init_default_scope('mmaction')
    backbone = cfg.model.backbone.to_dict()
    assert backbone['pretrained'] == CHECKPOINT
    backbone['pretrained'] = osp.join(REPO_ROOT, CHECKPOINT)
    return backbone


def test_shipped_checkpoint_is_small_and_holds_only_backbone_tensors():
    path = osp.join(REPO_ROOT, CHECKPOINT)
    assert osp.getsize(path) <= 10 * 2**20
    checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    assert checkpoint['state_dict'] and all(
        k.startswith('backbone.') for k in checkpoint['state_dict']
    )


def test_demo_backbone_loads_every_trunk_tensor_from_the_shipped_file():
    backbone = MODELS.build(demo_backbone_cfg())
    grid = backbone.grid_size
    assert grid[0] >= 4 and grid[1] >= 4  # the spatial adapter branch sees a grid
    backbone.init_weights()  # loads through ``pretrained=``
    report = backbone.load_pretrained(osp.join(REPO_ROOT, CHECKPOINT))
    assert report['missing'] == [] and report['unexpected'] == []
    assert report['shape_mismatch'] == []
    saved = torch.load(osp.join(REPO_ROOT, CHECKPOINT), weights_only=True)['state_dict']
    own = backbone.state_dict()
    trunk = [k for k in own if '.adapter.' not in k]
    assert sorted('backbone.' + k for k in trunk) == sorted(saved)
    for key in trunk:
        torch.testing.assert_close(own[key], saved['backbone.' + key], msg=key)
    # Frozen trunk: only the adapters train.
    trainable = {n for n, p in backbone.named_parameters() if p.requires_grad}
    assert trainable and all('.adapter.' in n for n in trainable)


def test_shipped_file_loads_into_mmaction_vision_transformer():
    cfg = demo_backbone_cfg()
    shape = {k: cfg[k] for k in ('img_size', 'patch_size', 'embed_dims', 'depth', 'num_heads')}
    path = osp.join(REPO_ROOT, CHECKPOINT)
    vit = MODELS.build(
        dict(
            type='mmaction.VisionTransformer',
            num_frames=cfg.get('num_frames', 16),
            mlp_ratio=cfg['mlp_ratio'],
            init_cfg=dict(type='Pretrained', checkpoint=path, prefix='backbone.'),
            **shape,
        )
    )
    vit.init_weights()
    saved = torch.load(path, weights_only=True)['state_dict']
    own = vit.state_dict()
    assert sorted('backbone.' + k for k in own) == sorted(saved)
    for key, value in own.items():
        torch.testing.assert_close(value, saved['backbone.' + key], msg=key)
