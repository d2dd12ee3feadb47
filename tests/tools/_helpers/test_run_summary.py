"""The main job's closing summary and the checkpoint it tests."""

import os

from mmengine.logging import MessageHub

from _helpers.run_summary import best_checkpoint, format_summary


def test_best_checkpoint_prefers_best_then_last(tmp_path):
    best, last = tmp_path / 'best_mg_f1_epoch_3.pth', tmp_path / 'epoch_5.pth'
    last.write_bytes(b'')
    hub = MessageHub(f'summary_{os.getpid()}_a')
    hub.update_info('last_ckpt', str(last))
    assert best_checkpoint(hub) == str(last)  # no best recorded (no validation)
    hub.update_info('best_ckpt', str(best))
    assert best_checkpoint(hub) == str(last)  # recorded but deleted
    best.write_bytes(b'')
    assert best_checkpoint(hub) == str(best)
    assert best_checkpoint(MessageHub(f'summary_{os.getpid()}_b')) is None


def test_summary_names_scores_files_and_next_commands(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'work' / 'timelines').mkdir(parents=True)
    (tmp_path / 'work' / 'per_class_f1.csv').write_text('')
    metrics = {
        'mg/precision': 0.5,
        'mg/recall': 0.7083,
        'mg/f1': 0.58621,
        'mg/f1_folding_arms': 1.0,
    }
    text = format_summary(
        config='configs/stda_demo.py',
        checkpoint='work/best.pth',
        test_metrics=metrics,
        val_f1=0.4,
        score_thr=0.3,
        work_dir='work',
        timeline_dir='work/timelines',
        tools_dir=str(tmp_path / 'tools'),
    )
    lines = text.splitlines()
    # Headline scores only: the per-class F1 stays in per_class_f1.csv.
    assert lines[1] == (
        'test:        mg/precision 0.500  mg/recall 0.708  mg/f1 0.586  '
        '(score threshold 0.30, chosen on validation)'
    )
    assert 'validation:  F1 0.400' in lines
    assert 'checkpoint:  work/best.pth' in lines
    assert 'timelines:   work/timelines (one PNG per test video)' in lines
    assert 'outputs:     work/per_class_f1.csv' in lines  # no submission.csv was written
    assert (
        '  python tools/online_infer.py VIDEO configs/stda_demo.py work/best.pth '
        '--out preds.csv --timeline timeline.png'
    ) in lines


def test_summary_shows_every_path_the_same_way(tmp_path, monkeypatch):
    """The runner's absolute checkpoint path and a ./ work dir both show relative."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'work_dirs' / 'demo' / 'timelines').mkdir(parents=True)
    (tmp_path / 'work_dirs' / 'demo' / 'submission.csv').write_text('')
    outside = tmp_path.parent / 'elsewhere' / 'best.pth'
    common = dict(
        config='configs/stda_demo.py',
        test_metrics={'mg/f1': 0.5},
        val_f1=None,
        score_thr=None,
        work_dir='./work_dirs/demo',
        timeline_dir='./work_dirs/demo/timelines',
        tools_dir=str(tmp_path / 'tools'),
    )
    inside = str(tmp_path / 'work_dirs' / 'demo' / 'best_mg_f1_epoch_40.pth')
    lines = format_summary(checkpoint=inside, **common).splitlines()
    assert 'checkpoint:  work_dirs/demo/best_mg_f1_epoch_40.pth' in lines
    assert 'timelines:   work_dirs/demo/timelines (one PNG per test video)' in lines
    assert 'outputs:     work_dirs/demo/submission.csv' in lines
    assert any(
        'test.py configs/stda_demo.py work_dirs/demo/best_mg_f1_epoch_40.pth' in x for x in lines
    )
    # Outside the current folder a path stays absolute: it must still resolve.
    lines = format_summary(checkpoint=str(outside), **common).splitlines()
    assert f'checkpoint:  {outside}' in lines
