import csv
import dataclasses
import json
import os
from collections import Counter

import decord
import numpy as np
import pytest

from mmstda.datasets.smg_meta import SMG_CLASSES, SMG_TRAIN_COUNTS
from mmstda.datasets.synthetic_smg import (
    CLASS_SPECS,
    SyntheticSMGConfig,
    allocate_class_counts,
    challenge_sample_ids,
    generate_synthetic_smg,
    plan_dataset,
)


def _files(root: str) -> dict:
    out = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, 'rb') as f:
                out[os.path.relpath(path, root)] = f.read()
    return out


def test_same_seed_gives_identical_files(tiny_smg, tiny_smg_cfg, tmp_path):
    generate_synthetic_smg(str(tmp_path), tiny_smg_cfg, workers=2)
    first, second = _files(tiny_smg), _files(str(tmp_path))
    assert sorted(first) == sorted(second)
    assert 'Sample0036/Sample0036_color.mp4' in first
    for name in first:
        assert first[name] == second[name], name


def test_other_seed_gives_other_labels(tiny_smg, tiny_smg_cfg, tmp_path):
    generate_synthetic_smg(str(tmp_path), dataclasses.replace(tiny_smg_cfg, seed=4))
    name = 'Sample0001/Sample0001_finelabels.csv'
    assert _files(tiny_smg)[name] != _files(str(tmp_path))[name]


def test_layout_and_labels_are_consistent(tiny_smg, tiny_smg_cfg):
    num_frames = int(round(tiny_smg_cfg.minutes * 60 * 28))
    with open(os.path.join(tiny_smg, 'synthetic_smg.json')) as f:
        summary = json.load(f)
    assert summary['splits'] == dict(train=[1], val=[31], test=[36])
    for sample_id in (1, 31, 36):
        folder = os.path.join(tiny_smg, f'Sample{sample_id:04d}')
        with open(os.path.join(folder, f'Sample{sample_id:04d}_data.csv')) as f:
            assert next(csv.reader(f)) == [str(num_frames), '28', '0']
        assert len(
            decord.VideoReader(os.path.join(folder, f'Sample{sample_id:04d}_color.mp4'))
        ) == (num_frames)
        with open(os.path.join(folder, f'Sample{sample_id:04d}_finelabels.csv')) as f:
            rows = np.array([[int(v) for v in row] for row in csv.reader(f)])
        assert rows[:, 0].min() >= 1 and rows[:, 0].max() <= 17
        assert rows[0, 1] >= 0 and rows[-1, 2] <= num_frames
        # Gestures are sorted and never overlap.
        assert np.all(rows[1:, 1] >= rows[:-1, 2])
        if sample_id == 1:
            # Every class occurs in the training split.
            assert sorted(set(rows[:, 0])) == list(range(1, 18))
            assert (
                np.bincount(rows[:, 0], minlength=18)[1:].tolist()
                == (summary['class_counts']['train'])
            )


def test_long_tail_follows_smg():
    assert allocate_class_counts(2452).tolist() == list(SMG_TRAIN_COUNTS)
    counts = allocate_class_counts(96, min_count=1)
    assert counts.sum() == 96
    assert counts.min() == 1
    assert np.all(np.diff(counts) <= 0), 'counts stay sorted from head to tail'
    assert counts[0] / counts[-1] >= 20


def test_challenge_sample_ids():
    assert challenge_sample_ids(12) == dict(
        train=[1, 2, 3, 4, 5, 6, 7, 8], val=[31, 32], test=[36, 37]
    )
    assert challenge_sample_ids(40) == dict(
        train=list(range(1, 31)), val=list(range(31, 36)), test=list(range(36, 41))
    )
    with pytest.raises(ValueError, match='num_videos must be in'):
        challenge_sample_ids(2)


def test_class_specs_need_region_and_pattern():
    assert len(CLASS_SPECS) == len(SMG_CLASSES)
    assert len(set(CLASS_SPECS)) == len(CLASS_SPECS), 'no two classes look the same'
    regions = [region for region, _ in CLASS_SPECS]
    patterns = [pattern for _, pattern in CLASS_SPECS]
    assert any(regions.count(r) > 1 for r in regions), 'some classes share a region'
    assert any(patterns.count(p) > 1 for p in patterns), 'some classes share a pattern'


def test_too_dense_is_refused(tiny_smg_cfg, tmp_path):
    cfg = dataclasses.replace(tiny_smg_cfg, gestures_per_minute=200)
    with pytest.raises(ValueError, match='do not fit into a video'):
        generate_synthetic_smg(str(tmp_path), cfg)


def test_the_training_floor_keeps_the_long_tail_shape():
    # The ablation study's training split: 576 gestures, rarest classes raised to 5.
    cfg = SyntheticSMGConfig(num_videos=20, minutes=3.0, seed=9, min_train_count=5)
    counts = Counter(
        label for plan in plan_dataset(cfg) if plan.split == 'train' for label, *_ in plan.gestures
    )
    by_label = [counts[label] for label in range(1, 18)]
    assert sum(by_label) == 16 * 36
    assert min(by_label) == 5
    assert by_label == sorted(by_label, reverse=True)  # SMG's order of frequency
    assert by_label[0] > 30 * by_label[-1]  # still a long tail


def test_the_training_floor_must_be_a_positive_int():
    with pytest.raises(ValueError, match='min_train_count must be an int >= 1, got 0'):
        SyntheticSMGConfig(min_train_count=0)
