"""A 2-epoch run of the demo model with ASBA and its hook on really learns: loss drops,
F1 beats the trivial baseline."""

import csv
import glob
import json
import os.path as osp
import subprocess
import sys

import pytest

from mmstda.datasets.synthetic_smg import SyntheticSMGConfig, generate_synthetic_smg

LEARN_CONFIG = osp.join('tests', 'data', 'configs', 'tiny_learn.py')


@pytest.fixture(scope='module')
def learn_smg(tmp_path_factory) -> str:
    """Six one-minute 32 px synthetic videos: four to train on, one each for val and test."""
    root = str(tmp_path_factory.mktemp('learn_smg'))
    generate_synthetic_smg(root, SyntheticSMGConfig(num_videos=6, frame_size=32, seed=0))
    return root


def _scalars(work_dir) -> list[dict]:
    (path,) = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(path) as f:
        return [json.loads(line) for line in f]


def test_two_epochs_learn_above_the_trivial_baseline(tmp_path, learn_smg, repo_root):
    data = [f'{s}_dataloader.dataset.data_root={learn_smg}' for s in ('train', 'val', 'test')]
    work_dir = str(tmp_path / 'work')
    run = dict(cwd=repo_root, capture_output=True, text=True, timeout=900)
    train = subprocess.run(
        [sys.executable, 'tools/train.py', LEARN_CONFIG, '--work-dir', work_dir, '--seed', '0',
         '--no-validate', '--cfg-options', *data], **run,
    )  # fmt: skip
    assert train.returncode == 0, train.stderr[-3000:]
    records = _scalars(work_dir)
    losses = [r['loss'] for r in records if 'loss' in r]
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.8 * first, losses
    # ASBAHook ran: its probes moved the difficulty away from the neutral 0.5 ...
    difficulty = [
        [v for k, v in r.items() if k.startswith('asba/difficulty/')]
        for r in records
        if any(k.startswith('asba/difficulty/') for k in r)
    ]
    assert len(difficulty) == 2 and len(difficulty[-1]) == 17, difficulty
    assert max(abs(v - 0.5) for v in difficulty[-1]) > 0.05, difficulty
    # ... and the decoupled STDA branch scales were logged while training.
    assert any('stda/temporal_scale' in r and 'stda/spatial_scale' in r for r in records)

    test = subprocess.run(
        [sys.executable, 'tools/test.py', LEARN_CONFIG, work_dir, '--work-dir', work_dir,
         '--cfg-options', *data], **run,
    )  # fmt: skip
    assert test.returncode == 0, test.stderr[-3000:]
    with open(osp.join(work_dir, 'per_class_f1.csv')) as f:
        overall = [row for row in csv.DictReader(f) if row['label'] == 'all'][0]

    baseline_file = str(tmp_path / 'trivial.json')
    trivial = subprocess.run(
        [sys.executable, 'tools/analysis/trivial_baselines.py', learn_smg, '--split', 'test',
         '--out', baseline_file], **run,
    )  # fmt: skip
    assert trivial.returncode == 0, trivial.stderr[-3000:]
    with open(baseline_file) as f:
        baseline = json.load(f)['motion_default']['f1']
    assert float(overall['f1']) > baseline, (overall, baseline)
