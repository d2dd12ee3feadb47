"""MMAction2's own tools/train.py on mmstda configs, run the way a stock-tools user runs it.

The training runs in a fresh interpreter that does not import mmstda first: the
config's ``custom_imports`` is the only thing that brings mmstda in.
"""

import os
import os.path as osp
import subprocess
import sys

import cv2
import mmaction
import numpy as np
import pytest
from mmengine.utils import digit_version

from mmstda.utils import load_checkpoint_file

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STOCK_TRAIN = osp.join(osp.dirname(mmaction.__file__), '.mim', 'tools', 'train.py')
MIX_CONFIG = osp.join(
    'configs',
    'mix',
    'stda_vit-small-p16_videomaev2-vit-g-dist-k710-pre_1xb8-16x4x1-10e_kinetics-400.py',
)
# mmaction2 1.1.0's bsn metafile lists three configs in one entry, so mmengine
# cannot resolve any ``mmaction::`` base before custom_imports runs (fixed in 1.2.0).
STOCK_RESOLVES_MMACTION_BASES = digit_version(mmaction.__version__) >= digit_version('1.2.0')


def run_train(script: str, config: str, work_dir: str, *options: str, flags=()):
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env['OMP_NUM_THREADS'] = '1'
    command = [sys.executable, script, config, '--work-dir', work_dir, *flags]
    command += ['--cfg-options', *options]
    return subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600
    )


def trained_only_adapters_and_head(checkpoint_path: str) -> tuple[int, int]:
    """(tensors with optimizer state, adapter and head tensors) of a checkpoint."""
    checkpoint = load_checkpoint_file(checkpoint_path)
    trainable = [
        key
        for key in checkpoint['state_dict']
        if '.adapter.' in key or key.startswith('cls_head.') or key.startswith('head.')
    ]
    return len(checkpoint['optimizer']['state']), len(trainable)


@pytest.fixture(scope='module')
def kinetics_list(tmp_path_factory) -> str:
    """Two labelled 24-frame 40 px clips and a Kinetics-format list (``path label``)."""
    root = tmp_path_factory.mktemp('kinetics_tiny')
    rng = np.random.default_rng(0)
    lines = []
    for index in range(2):
        name = f'clip{index}.mp4'
        writer = cv2.VideoWriter(str(root / name), cv2.VideoWriter_fourcc(*'mp4v'), 25, (40, 40))
        for _ in range(24):
            writer.write(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8))
        writer.release()
        lines.append(f'{name} {index}')
    (root / 'list.txt').write_text('\n'.join(lines) + '\n')
    return str(root)


def test_stock_train_runs_the_demo_config(tmp_path, tiny_smg):
    data = [f'{s}_dataloader.dataset.data_root={tiny_smg}' for s in ('train', 'val', 'test')]
    loader = ['train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False']
    # The tiny set's one training video gives one batch of 16 windows: one iteration.
    result = run_train(
        STOCK_TRAIN, 'configs/stda_demo.py', str(tmp_path), *data, *loader,
        'train_dataloader.batch_size=16', 'train_cfg.max_epochs=1', 'val_cfg=None',
        'val_dataloader=None', 'val_evaluator=None',
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'Epoch(train) [1][1/1]' in result.stdout
    checkpoint = load_checkpoint_file(str(tmp_path / 'epoch_1.pth'))
    # custom_imports brought mmstda in: the model is the STDA one.
    assert any('.adapter.' in key for key in checkpoint['state_dict'])


def _mix_options(kinetics_list: str) -> list[str]:
    """One iteration on the tiny list, with a tiny ViT at 32 px."""
    ann = osp.join(kinetics_list, 'list.txt')
    options = []
    for loader in ('train_dataloader', 'val_dataloader'):
        options += [
            f'{loader}.dataset.ann_file={ann}',
            f'{loader}.dataset.data_prefix.video={kinetics_list}',
            f'{loader}.batch_size=2',
            f'{loader}.num_workers=0',
            f'{loader}.persistent_workers=False',
        ]
    return options + [
        'train_cfg.max_epochs=1',
        'model.backbone.img_size=32',
        'model.backbone.embed_dims=32',
        'model.backbone.depth=1',
        'model.backbone.num_heads=2',
        'model.cls_head.in_channels=32',
        'model.cls_head.num_classes=2',
        'train_dataloader.dataset.pipeline.1.frame_interval=1',
        'train_dataloader.dataset.pipeline.3.scale=(-1,40)',
        'train_dataloader.dataset.pipeline.5.scale=(32,32)',
        'val_dataloader.dataset.pipeline.1.frame_interval=1',
        'val_dataloader.dataset.pipeline.3.scale=(-1,32)',
        'val_dataloader.dataset.pipeline.4.crop_size=32',
    ]


@pytest.mark.skipif(
    not STOCK_RESOLVES_MMACTION_BASES, reason='covered by the mmaction2 1.1.0 test below'
)
def test_stock_train_trains_a_mix_config_adapters_only(tmp_path, kinetics_list):
    result = run_train(STOCK_TRAIN, MIX_CONFIG, str(tmp_path), *_mix_options(kinetics_list))
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'Epoch(train) [1][1/1]' in result.stdout
    assert 'Epoch(val) [1][1/1]' in result.stdout and 'acc/top1' in result.stdout
    with_state, adapters_and_head = trained_only_adapters_and_head(str(tmp_path / 'epoch_1.pth'))
    assert with_state == adapters_and_head > 0


@pytest.mark.skipif(STOCK_RESOLVES_MMACTION_BASES, reason='mmaction2 1.1.0 only')
def test_mmaction_1_1_0_mix_config_needs_mmstda_tools(tmp_path, kinetics_list):
    # The README's version table: stock tools stop at the bsn metafile ...
    stock = run_train(
        STOCK_TRAIN, MIX_CONFIG, str(tmp_path / 'stock'), *_mix_options(kinetics_list)
    )
    assert stock.returncode != 0
    assert "AttributeError: 'list' object has no attribute 'partition'" in stock.stderr
    # ... and mmstda's tools/train.py (which imports mmstda first) trains the same config.
    # (--no-test: the stock recipe's test split is Kinetics-400's, not here.)
    ours = run_train(
        'tools/train.py',
        MIX_CONFIG,
        str(tmp_path / 'ours'),
        *_mix_options(kinetics_list),
        flags=['--no-test'],
    )
    assert ours.returncode == 0, ours.stderr[-3000:]
    with_state, adapters_and_head = trained_only_adapters_and_head(
        str(tmp_path / 'ours' / 'epoch_1.pth')
    )
    assert with_state == adapters_and_head > 0
