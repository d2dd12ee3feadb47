"""Fixtures shared by the tools' tests."""

import os.path as osp

import pytest
import torch
from mmaction.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmstda  # noqa: F401  (registers the tiny config's components)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_CONFIG = osp.join('tests', 'data', 'configs', 'tiny_demo.py')


@pytest.fixture(scope='module')
def tiny_trunk(tmp_path_factory) -> str:
    """The tiny config's trunk saved as an MMAction2 checkpoint (``backbone.`` keys)."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, TINY_CONFIG))
    init_default_scope('mmaction')
    torch.manual_seed(0)
    state = MODELS.build(cfg.model.backbone).state_dict()
    path = str(tmp_path_factory.mktemp('trunk') / 'trunk.pth')
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in state.items()}}, path)
    return path


@pytest.fixture(scope='module')
def tiny_base(tiny_trunk) -> Config:
    cfg = Config.fromfile(osp.join(REPO_ROOT, TINY_CONFIG))
    cfg.model.backbone.pretrained = tiny_trunk
    return cfg
