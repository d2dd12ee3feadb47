"""Every config in configs/ loads, names only registered components and builds."""

import glob
import os.path as osp

import pytest
import torch
from mmaction.registry import HOOKS, METRICS, MODELS, TRANSFORMS
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmstda  # noqa: F401  (registers components, patches mmaction:: lookup)

from _helpers.launch import check_component_types

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    osp.relpath(path, REPO_ROOT)
    for path in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in path
)


def load(name: str) -> Config:
    cfg = Config.fromfile(osp.join(REPO_ROOT, name))
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    return cfg


def test_configs_are_found():
    assert 'configs/stda_smg.py' in CONFIGS and 'configs/stda_demo.py' in CONFIGS
    assert any(name.startswith('configs/mix/') for name in CONFIGS)


@pytest.mark.parametrize('name', CONFIGS)
def test_config_builds(name):
    cfg = load(name)
    check_component_types(cfg, source=name)
    # Giant models are built on the meta device: shapes only, no memory. (mmaction's
    # own VisionTransformer calls .item() while building, so it is built for real.)
    giant = cfg.model.backbone.get('arch') == 'giant'
    with torch.device('meta' if giant else 'cpu'):
        model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 0
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(loader):
            for step in cfg[loader].dataset.pipeline:
                TRANSFORMS.build(step)
    for key in ('val_evaluator', 'test_evaluator'):
        if cfg.get(key):
            for metric in cfg[key] if isinstance(cfg[key], list) else [cfg[key]]:
                METRICS.build(metric)
    for hook in cfg.get('custom_hooks', []):
        HOOKS.build(hook)


def test_paper_config_matches_the_method():
    cfg = load('configs/stda_smg.py')
    backbone = cfg.model.backbone
    assert backbone.type == 'DecoupledAdapterViT' and backbone.arch == 'giant'
    assert (backbone.adapter_type, backbone.adapter_ratio) == ('stda', 0.25)
    assert (backbone.adapter_temporal_kernel, backbone.adapter_spatial_kernel) == (3, 3)
    assert backbone.img_size == 160 and backbone.freeze_backbone and backbone.with_cp
    assert cfg.model.head.type == 'OnlineTADHead' and cfg.model.head.causal
    assert cfg.train_dataloader.dataset.frame_interval == 1  # native 28 fps
    assert any(s.type == 'ASBATransform' for s in cfg.train_dataloader.dataset.pipeline)
    assert [h.type for h in cfg.custom_hooks] == ['ASBAHook']
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper' and cfg.test_evaluator.type == (
        'MicroGestureF1Metric'
    )
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    trainable = sum(p.numel() for p in model.backbone.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.backbone.parameters())
    assert 0 < trainable / total < 0.05  # adapters only


def test_fsdp_config_strategy_is_what_the_readme_says():
    cfg = load('configs/stda_smg_fsdp.py')
    assert cfg.runner_type == 'FlexibleRunner'
    assert cfg.strategy.type == 'FSDPStrategy'
    wrapper = cfg.strategy.model_wrapper
    assert wrapper.use_orig_params is True
    assert wrapper.auto_wrap_policy.type.endswith('size_based_auto_wrap_policy')
    assert wrapper.auto_wrap_policy.min_num_params == 10_000_000
    assert wrapper.mixed_precision == dict(
        param_dtype='bfloat16', reduce_dtype='float32', buffer_dtype='float32'
    )
    assert cfg.strategy.state_dict_cfg == 'full'
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    readme = open(osp.join(REPO_ROOT, 'README.md')).read()
    assert 'bash tools/dist_train.sh configs/stda_smg_fsdp.py' in readme


def test_mix_config_changes_only_the_backbone_type():
    import mmaction

    stock = Config.fromfile(
        osp.join(
            osp.dirname(mmaction.__file__),
            '.mim/configs/recognition/videomaev2/'
            'vit-base-p16_videomaev2-vit-g-dist-k710-pre_16x4x1_kinetics-400.py',
        )
    )
    mixed = load(
        'configs/mix/stda_vit-base-p16_videomaev2-vit-g-dist-k710-pre_16x4x1_kinetics-400_eval-only.py'
    )
    assert mixed.model.backbone.pop('type') == 'DecoupledAdapterViT'
    assert stock.model.backbone.pop('type') == 'VisionTransformer'
    assert mixed.model.backbone == stock.model.backbone

    # Inheritance through ``mmaction::`` tags dicts with ``_scope_``; nothing else differs.
    def strip_scope(node):
        if isinstance(node, dict):
            return {k: strip_scope(v) for k, v in node.items() if k != '_scope_'}
        if isinstance(node, list | tuple):
            return [strip_scope(v) for v in node]
        return node

    assert strip_scope(mixed.test_dataloader.to_dict()) == strip_scope(
        stock.test_dataloader.to_dict()
    )
    assert strip_scope(mixed.model.cls_head.to_dict()) == strip_scope(
        stock.model.cls_head.to_dict()
    )


@pytest.mark.parametrize(
    'online, anchor_free',
    [
        ('configs/stda_smg.py', 'configs/stda-afhead_vit-g-p14_videomaev2-pre_1xb4-20e_smg.py'),
        ('configs/stda_demo.py', 'configs/stda-afhead_demo.py'),
    ],
)
def test_anchor_free_head_configs_swap_only_the_head(online, anchor_free):
    base, swapped = load(online), load(anchor_free)
    for key in ('backbone', 'neck', 'data_preprocessor'):
        assert swapped.model[key] == base.model[key]
    for key in ('train_dataloader', 'optim_wrapper', 'param_scheduler', 'train_cfg'):
        assert swapped[key] == base[key]
    assert swapped.custom_hooks == base.custom_hooks
    head = swapped.model.head
    assert head.type == 'AnchorFreeTADHead'
    assert head.in_channels == base.model.head.in_channels
    assert head.num_classes == base.model.head.num_classes
    giant = swapped.model.backbone.get('arch') == 'giant'
    with torch.device('meta' if giant else 'cpu'):
        model = MODELS.build(swapped.model)
    # The pyramid is fitted to the window: the head was built for the windows the
    # config trains on, so building it checked that every level can get a positive.
    assert model.head.window_frames == swapped.train_dataloader.dataset.window_frames == 64
    assert model.head.strides == ((2, 4, 8) if 'demo' in anchor_free else (2, 4, 8, 16))


def test_demo_is_the_methods_regime():
    """Frozen pretrained trunk on a grid, STDA + head trained, ASBA with every family."""
    cfg = load('configs/stda_demo.py')
    backbone = cfg.model.backbone
    assert backbone.freeze_backbone and backbone.adapter_type == 'stda'
    assert backbone.img_size // backbone.patch_size >= 4  # a grid the spatial branch sees
    assert osp.isfile(osp.join(REPO_ROOT, backbone.pretrained))
    assert cfg.model.neck.spatial_pool == 'max'
    model = MODELS.build(cfg.model)
    trainable = {n.split('.')[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {'backbone', 'head'}
    assert all('.adapter.' in n for n, p in model.backbone.named_parameters() if p.requires_grad)
    asba = [s for s in cfg.train_dataloader.dataset.pipeline if s.type == 'ASBATransform']
    assert len(asba) == 1
    built = TRANSFORMS.build(asba[0])
    defaults = TRANSFORMS.build(dict(type='ASBATransform', num_classes=17))
    for family in ('crop_area', 'translate', 'rotate_deg', 'slow_down', 'speed_warp', 'noise_std'):
        assert getattr(built, family) == getattr(defaults, family), family
        assert max(getattr(built, family)) > min(getattr(built, family)), family
    assert [h.type for h in cfg.custom_hooks] == ['ASBAHook']
    scratch = load('configs/stda_demo_scratch.py').model.backbone
    assert scratch.patch_size == scratch.img_size and not scratch.freeze_backbone


def _gestures(dataset) -> tuple[int, int, set]:
    """(gestures, generator seed, subjects) of the videos a synthetic dataset config reads."""
    from mmstda.datasets.synthetic_smg import SyntheticSMGConfig, plan_dataset

    generator = SyntheticSMGConfig(**(dataset.get('generator') or {}))
    plans = plan_dataset(generator)
    if dataset.get('sample_ids') is not None:
        ids = set(dataset.sample_ids)
        assert ids <= {plan.sample_id for plan in plans}, 'sample_ids the generator never makes'
        plans = [plan for plan in plans if plan.sample_id in ids]
    else:
        plans = [plan for plan in plans if plan.split == dataset.split]
    subjects = {(generator.seed, plan.sample_id) for plan in plans}  # one subject per video
    return sum(len(plan.gestures) for plan in plans), generator.seed, subjects


def _pretraining_seeds() -> set:
    seeds = set()
    for path in glob.glob(osp.join(REPO_ROOT, 'configs', 'pretrain', '*.py')):
        generator = Config.fromfile(path).train_dataloader.dataset.get('generator') or {}
        runs = generator if isinstance(generator, list) else [generator]
        seeds |= {run.get('seed', 0) for run in runs}
    return seeds


@pytest.mark.parametrize('name', ['configs/stda_demo.py', 'configs/ablation/study_demo.py'])
def test_demo_held_out_splits_are_large_and_of_new_subjects(name):
    # A 0.05 difference in F1 must show: at least 60 validation and 100 test
    # gestures, from videos (subjects) never trained on, and from generator runs
    # no pretraining data comes from.
    cfg = load(name)
    num_val, val_seed, val_subjects = _gestures(cfg.val_dataloader.dataset)
    num_test, test_seed, test_subjects = _gestures(cfg.test_dataloader.dataset)
    _, train_seed, train_subjects = _gestures(cfg.train_dataloader.dataset)
    assert num_val >= 60 and num_test >= 100, (num_val, num_test)
    assert not (val_subjects | test_subjects) & train_subjects
    assert not val_subjects & test_subjects
    assert test_seed not in {train_seed, val_seed}
    assert not {train_seed, val_seed, test_seed} & _pretraining_seeds()
