"""The README's main job: one tools/train.py command trains, tests the best checkpoint, sums up."""

import csv
import glob
import re

from mmstda.utils import read_operating_point


def test_train_tests_the_best_checkpoint_at_its_threshold_and_prints_a_summary(tmp_path, run_tiny):
    result = run_tiny(
        'train', '--work-dir', str(tmp_path), then_test=True,
        cfg_options=['train_cfg.max_epochs=1', 'default_hooks.checkpoint.save_best=mg/f1'],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    summary = out[out.index('==== Done: tests/data/configs/tiny_demo.py ====') :].splitlines()
    best = tmp_path / 'best_mg_f1_epoch_1.pth'
    assert f'checkpoint:  {best}' in summary
    point = read_operating_point(str(best))
    assert point is not None
    (test_line,) = [line for line in summary if line.startswith('test:')]
    assert f'(score threshold {point["score_thr"]:.2f}, chosen on validation)' in test_line
    assert f'validation:  F1 {point["val_f1"]:.3f}' in summary
    # The summary reports what tools/test.py wrote for that checkpoint.
    with open(tmp_path / 'per_class_f1.csv') as f:
        overall = [row for row in csv.DictReader(f) if row['label'] == 'all'][0]
    assert float(re.search(r'mg/f1 (\S+)', test_line).group(1)) == round(float(overall['f1']), 3)
    assert len(glob.glob(str(tmp_path / 'timelines' / '*.png'))) == 1  # one test video
    assert any(line.startswith('  python tools/online_infer.py VIDEO') for line in summary)
    # The config dump went to the log file, not the console.
    assert 'Config:' not in out
    logs = glob.glob(str(tmp_path / '*' / '*.log'))  # training's and testing's
    assert len(logs) == 2 and all('Config:' in open(log).read() for log in logs)
