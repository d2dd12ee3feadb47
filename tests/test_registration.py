import os.path as osp

import pytest
import torch
from mmengine.config import Config

import mmstda  # noqa: F401  (patches mmaction config lookup; see mmstda.utils.compat)

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def test_import_registers_every_component_in_mmaction_registries():
    import mmaction.registry as registry

    expected = {
        registry.MODELS: [
            'DecoupledAdapterViT',
            'OnlineMGDetector',
            'OnlineTADHead',
            'AnchorFreeTADHead',
            'TemporalAlignNeck',
            'SigmoidFocalLoss',
            'SegmentIoULoss',
            'VideoMAEPretrainer',
        ],
        registry.TRANSFORMS: [
            'ASBATransform',
            'SampleMGWindow',
            'TemporalSpeedJitter',
            'PackMGInputs',
            'InMemoryVideoClip',
        ],
        registry.METRICS: ['MicroGestureF1Metric'],
        registry.DATASETS: ['SMGDataset', 'SyntheticSMGDataset', 'UnlabeledVideoDataset'],
        registry.HOOKS: ['ASBAHook', 'ClassBalanceHook', 'OperatingPointHook', 'RandomStateHook'],
    }
    for reg, names in expected.items():
        for name in names:
            assert reg.get(name) is not None, f'{name} missing from {reg.name}'
            assert reg.get(name).__module__.startswith('mmstda.')


def test_stock_mmaction_config_with_custom_imports_builds_mmstda_backbone():
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope

    cfg = Config.fromfile(osp.join(REPO_ROOT, 'tests/data/configs/stock_videomaev2_stda.py'))
    # Inherited unchanged from the stock recipe ...
    assert cfg.model.type == 'Recognizer3D'
    assert cfg.model.backbone.embed_dims == 384
    assert cfg.test_dataloader.dataset.type == 'VideoDataset'
    # ... except the swapped component.
    assert cfg.model.backbone.type == 'DecoupledAdapterViT'
    init_default_scope(cfg.default_scope)
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    assert type(model.backbone).__name__ == 'DecoupledAdapterViT'
    assert type(model.backbone).__module__.startswith('mmstda.')


@pytest.mark.parametrize('module', ['mmcv.ops', 'mmdet'])
def test_core_never_imports_compiled_ops_or_mmdet(module):
    import subprocess
    import sys

    code = (
        'import sys, mmstda\n'
        f'assert not any(m == {module!r} or m.startswith({module!r} + ".") '
        'for m in sys.modules), sorted(m for m in sys.modules if m.startswith('
        f'{module!r}))\n'
    )
    subprocess.run([sys.executable, '-c', code], check=True, cwd=REPO_ROOT)
