"""The main job's closing summary and the checkpoint it tests."""

import os

from mmengine.logging import MessageHub

from mmstda.utils.run_summary import best_checkpoint, format_summary


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
        '--out preds.csv --show timeline.png'
    ) in lines
