"""tools/analysis/run_ablation.py: the study's data, caching, resuming and the report.

The variants and the scores it uses are tested under tests/tools/analysis/ablation.
"""

import glob
import json
import os
import os.path as osp
import re
import runpy
import subprocess
import sys
from pathlib import Path

from mmengine.config import Config

from mmstda.datasets.synthetic_smg import (
    SyntheticSMGConfig,
    challenge_sample_ids,
    generate_synthetic_smg,
    plan_dataset,
)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_CONFIG = osp.join('tests', 'data', 'configs', 'tiny_demo.py')
STUDY_CONFIG = osp.join('configs', 'ablation', 'study_demo.py')


def test_study_test_set_is_large_and_of_unseen_subjects():
    study = Config.fromfile(osp.join(REPO_ROOT, STUDY_CONFIG))
    test = study.test_dataloader.dataset
    generator = SyntheticSMGConfig(**test.generator)
    # The videos of its own data set whose class counts have the generator's floor
    # (its training split), never trained on.
    assert sorted(test.sample_ids) == challenge_sample_ids(generator.num_videos)['train']
    plans = [plan for plan in plan_dataset(generator) if plan.sample_id in test.sample_ids]
    assert sum(len(plan.gestures) for plan in plans) >= 100
    # Other subjects than the demo's data and any pretraining data.
    seeds = [(study.train_dataloader.dataset.get('generator') or {}).get('seed', 0)]
    for path in glob.glob(osp.join(REPO_ROOT, 'configs', 'pretrain', '*.py')):
        generators = Config.fromfile(path).train_dataloader.dataset.get('generator') or {}
        # One generator run, or a list of them (one data set each).
        for generator_run in generators if isinstance(generators, list) else [generators]:
            seeds.append(generator_run.get('seed', 0))
    assert generator.seed not in seeds
    assert test.data_root != study.train_dataloader.dataset.data_root


def test_study_schedule_is_the_demos_compressed_into_its_epochs():
    study = Config.fromfile(osp.join(REPO_ROOT, STUDY_CONFIG))
    demo = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'stda_demo.py'))
    assert [s.type for s in study.param_scheduler] == [s.type for s in demo.param_scheduler]
    assert study.param_scheduler[-1].end == study.train_cfg.max_epochs
    assert study.train_cfg.max_epochs <= demo.train_cfg.max_epochs
    assert study.optim_wrapper == demo.optim_wrapper
    # The demo's model, on a trunk pretrained on more subjects.
    model, demo_model = study.model.to_dict(), demo.model.to_dict()
    assert model['backbone'].pop('pretrained') != demo_model['backbone'].pop('pretrained')
    assert model == demo_model


def _run_study(args: list[str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env['OMP_NUM_THREADS'] = '1'
    command = [sys.executable, 'tools/analysis/run_ablation.py', *args]
    return subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600
    )


def _in_process(monkeypatch, args: list[str]) -> int:
    """Run the tool's main() here (saves a start-up); the code it exits with."""
    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.setattr(sys, 'argv', ['tools/analysis/run_ablation.py', *args])
    run_ablation = runpy.run_path(osp.join(REPO_ROOT, 'tools', 'analysis', 'run_ablation.py'))
    try:
        run_ablation['main']()
    except SystemExit as stopped:
        return stopped.code
    return 0


def test_missing_prerequisite_stops_the_study_in_one_line(tmp_path, monkeypatch, capsys):
    args = ['--base-config', TINY_CONFIG, '--variants', 'stda', '--work-dir', str(tmp_path)]
    assert _in_process(monkeypatch, args) == 2
    stderr = capsys.readouterr().err
    assert stderr.startswith("error: variant 'stda' needs a pretrained trunk")
    assert len(stderr.strip().splitlines()) == 1
    assert not os.listdir(tmp_path)  # nothing trained


def test_jobs_below_one_is_refused(tmp_path, monkeypatch, capsys):
    args = ['--base-config', TINY_CONFIG, '--jobs', '0', '--work-dir', str(tmp_path)]
    assert _in_process(monkeypatch, args) == 2
    assert '--jobs must be at least 1, got 0' in capsys.readouterr().err
    assert not os.listdir(tmp_path)


def _cpu_model() -> str:
    match = re.search(r'^model name\s*:\s*(.+)$', Path('/proc/cpuinfo').read_text(), re.M)
    return match.group(1).strip()


def test_smoke_study_trains_caches_and_reports(tmp_path, tiny_trunk, monkeypatch, capsys):
    data = str(tmp_path / 'smg')
    generate_synthetic_smg(
        data,
        SyntheticSMGConfig(
            num_videos=3, minutes=0.25, frame_size=32, mean_gesture_frames=12, seed=3
        ),
    )
    work = tmp_path / 'study'
    args = ['--base-config', TINY_CONFIG, '--variants', 'linear-probe', 'asba-off']
    args += ['--seeds', '0', '--smoke', '--work-dir', str(work), '--cfg-options']
    args += [f'{split}_dataloader.dataset.data_root={data}' for split in ('train', 'val', 'test')]
    args += [f'model.backbone.pretrained={tiny_trunk}', 'val_dataloader.batch_size=8']

    # Both runs at once: each result and the report must still hold both.
    first = _run_study([*args, '--jobs', '2'])
    assert first.returncode == 0, first.stderr[-3000:]
    assert '2 runs: 0 cached, 2 to run' in first.stdout
    for name in ('linear-probe', 'asba-off'):
        result = json.loads((work / name / 'seed0' / 'result.json').read_text())
        assert (result['variant'], result['seed']) == (name, 0)
        assert 0.0 <= result['test_f1'] <= 1.0 and result['test_num_gt'] > 0
        assert result['train_minutes'] > 0 and result['peak_memory_mb'] > 0
        assert result['parallel_jobs'] == 2
        # Runs from different CPU models train differently: each names its CPU.
        assert result['processor'] == _cpu_model()
        # The linear probe trains no backbone parameter; the adapters do.
        assert (result['backbone_trainable_percent'] > 0) == (name == 'asba-off')
    report = json.loads((work / 'results.json').read_text())
    assert [row['name'] for row in report['summary']] == ['linear-probe', 'asba-off']
    assert len(report['runs']) == 2
    assert report['machine']['run_processors'] == [_cpu_model()]
    assert report['variants']['linear-probe']['overrides']['model.backbone.adapter_type'] is None
    table = (work / 'results.md').read_text().splitlines()
    assert table[0].startswith('| group | variant | test F1 | rare-class F1')
    assert [line.split(' | ')[1] for line in table[2:4]] == [
        'none (linear probe: trunk + head)',
        'ASBA off',
    ]
    assert (work / 'results.png').stat().st_size > 0

    train_log = work / 'asba-off' / 'seed0' / 'train.log'
    before = train_log.stat().st_mtime_ns
    # The reruns train nothing: run here, they save a start-up each.
    assert _in_process(monkeypatch, args) == 0
    assert '2 runs: 2 cached, 0 to run' in capsys.readouterr().out
    assert train_log.stat().st_mtime_ns == before  # nothing retrained
    assert json.loads((work / 'results.json').read_text())['runs'] == report['runs']

    # --report-only reports what is finished and trains nothing (seed 1 never ran).
    (work / 'results.json').unlink()
    seeds = args.index('--seeds')
    partial = [*args[: seeds + 1], '0', '1', *args[seeds + 2 :], '--report-only']
    assert _in_process(monkeypatch, partial) == 0
    out = capsys.readouterr().out
    assert 'not finished: linear-probe seed 1' in out and 'not finished: asba-off seed 1' in out
    assert not (work / 'linear-probe' / 'seed1').exists()
    assert json.loads((work / 'results.json').read_text())['runs'] == report['runs']
