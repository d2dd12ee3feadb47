"""tools/analysis/run_ablation.py on GPUs and through Slurm, its presets and --results-dir.

No GPU and no cluster: the GPUs are ids handed to a stand-in for the tool runner,
Slurm is a stand-in ``srun`` on PATH (as in test_slurm_scripts.py) in front of
stand-in tools that write what tools/train.py and tools/test.py would.
"""

import importlib.util
import itertools
import json
import os
import os.path as osp
import re
import shutil
import sys
import threading
import time

import pytest
import torch
from mmengine.config import Config

from mmstda.datasets.synthetic_smg import SyntheticSMGConfig, generate_synthetic_smg

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_CONFIG = osp.join('tests', 'data', 'configs', 'tiny_demo.py')
SMG_CONFIG = osp.join('configs', 'stda_smg.py')
# What the stand-in tools leave: a best checkpoint with this operating point and a
# per-class table whose pooled F1 is 2 * (3/4 * 3/6) / (3/4 + 3/6) = 0.6.
POINT = dict(score_thr=0.35, val_f1=0.5, epoch=1, metric='mg/f1')
TABLE = 'label,num_gt,num_pred,tp\n0,4,2,2\n1,2,2,1\nall,6,4,3\n'
TABLE_F1 = 0.6


@pytest.fixture(scope='module')
def study():
    """tools/analysis/run_ablation.py as a module, so that a test can patch its runner."""
    path = osp.join(REPO_ROOT, 'tools', 'analysis', 'run_ablation.py')
    spec = importlib.util.spec_from_file_location('run_ablation_under_test', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory) -> str:
    data = str(tmp_path_factory.mktemp('data') / 'smg')
    config = SyntheticSMGConfig(
        num_videos=3, minutes=0.25, frame_size=32, mean_gesture_frames=12, seed=3
    )
    generate_synthetic_smg(data, config)
    return data


@pytest.fixture
def tiny_study(tiny_data, tiny_trunk):
    """Arguments of a study of the tiny config on the tiny data, before its own options."""

    def arguments(work_dir, *options, seeds=(0,), variants=('linear-probe',), cfg_options=()):
        args = ['--base-config', TINY_CONFIG, '--work-dir', str(work_dir), *options]
        args += ['--variants', *variants] if variants else []
        args += ['--seeds', *(str(seed) for seed in seeds)]
        args += ['--cfg-options', f'model.backbone.pretrained={tiny_trunk}', *cfg_options]
        return args + [f'{s}_dataloader.dataset.data_root={tiny_data}' for s in ('train', 'test')]

    return arguments


def _main(study, monkeypatch, args: list[str]) -> int:
    """Run the study's main() here with ``args``; the status it exits with."""
    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.setattr(sys, 'argv', ['tools/analysis/run_ablation.py', *args])
    try:
        study.main()
    except SystemExit as stopped:
        return stopped.code
    return 0


def _save_best_checkpoint(work_dir: str) -> None:
    meta = {'operating_point': POINT}
    torch.save({'meta': meta, 'state_dict': {}}, osp.join(work_dir, 'best_mg_f1_epoch_1.pth'))


class FakeTools:
    """Stands in for ``run_tool``: records each tool's command, GPUs and time, writes its files.

    The first ``at_once`` trainings wait for each other: they must run at the same time.
    """

    def __init__(self, at_once: int = 1):
        self.calls, self.lock = [], threading.Lock()
        self.barrier, self.to_meet = threading.Barrier(at_once, timeout=10), at_once

    def __call__(self, command: list[str], log_path: str, env: dict | None = None) -> dict:
        start = time.monotonic()
        work_dir = command[command.index('--work-dir') + 1]
        os.makedirs(work_dir, exist_ok=True)
        tool = 'train' if any(word.endswith('train.py') for word in command) else 'test'
        if tool == 'train':
            with self.lock:
                meet, self.to_meet = self.to_meet > 0, self.to_meet - 1
            if meet:
                self.barrier.wait()
            _save_best_checkpoint(work_dir)
        else:
            with open(osp.join(work_dir, 'per_class_f1.csv'), 'w') as f:
                f.write(TABLE)
        time.sleep(0.02)
        call = dict(tool=tool, command=command, run_dir=osp.dirname(work_dir), start=start)
        call.update(devices=(env or os.environ).get('CUDA_VISIBLE_DEVICES'), end=time.monotonic())
        with self.lock:
            self.calls.append(call)
        return dict(returncode=0, wall_s=0.1, cpu_s=0.1, peak_mb=10.0)


def _port(command: list[str]) -> int:
    return int(next(w for w in command if w.startswith('--master_port=')).split('=')[1])


# ---------------------------------------------------------------------------- GPUs
@pytest.mark.parametrize(
    'per_run, jobs, gpus',
    [(2, 2, ['--gpus', '0', '1', '2', '3']), (1, 4, []), (4, 1, ['--gpus', '0,1,2,3'])],
)
def test_each_run_at_once_gets_gpus_of_its_own(
    study, tiny_study, tmp_path, monkeypatch, per_run, jobs, gpus
):
    # Without --gpus the ids are those of CUDA_VISIBLE_DEVICES.
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '4,5,6,7')
    pool = {'0', '1', '2', '3'} if gpus else {'4', '5', '6', '7'}
    tools = FakeTools(at_once=jobs)
    monkeypatch.setattr(study, 'run_tool', tools)
    options = ['--gpus-per-run', str(per_run), '--jobs', str(jobs), *gpus]
    assert _main(study, monkeypatch, tiny_study(tmp_path, *options, seeds=(0, 1, 2, 3))) == 0

    assert sorted(c['tool'] for c in tools.calls) == ['test'] * 4 + ['train'] * 4
    for call in tools.calls:
        devices = call['devices'].split(',')
        assert len(devices) == per_run and set(devices) <= pool
        script = osp.join(study.TOOLS_DIR, f'{call["tool"]}.py')
        if per_run == 1:
            assert call['command'][:2] == [sys.executable, script]
        else:
            assert call['command'][:3] == [sys.executable, '-m', 'torch.distributed.run']
            assert f'--nproc_per_node={per_run}' in call['command'] and script in call['command']
            assert call['command'][-2:] == ['--launcher', 'pytorch']
    overlapping = [
        (a, b)
        for a, b in itertools.combinations(tools.calls, 2)
        if a['start'] < b['end'] and b['start'] < a['end']
    ]
    assert bool(overlapping) == (jobs > 1)
    for a, b in overlapping:
        assert not set(a['devices'].split(',')) & set(b['devices'].split(','))
        if per_run > 1:
            assert _port(a['command']) != _port(b['command'])
    # A run trains and tests on the same GPUs, and its result says which.
    for seed in range(4):
        run_dir = str(tmp_path / 'linear-probe' / f'seed{seed}')
        devices = {c['devices'] for c in tools.calls if c['run_dir'] == run_dir}
        assert len(devices) == 1
        result = json.loads((tmp_path / 'linear-probe' / f'seed{seed}' / 'result.json').read_text())
        assert result['devices'] == devices.pop().split(',')
        assert result['test_f1'] == pytest.approx(TABLE_F1)
        assert result['operating_point'] == POINT
    assert len(json.loads((tmp_path / 'results.json').read_text())['runs']) == 4


@pytest.mark.parametrize(
    'options, visible, message',
    [
        (
            ['--gpus-per-run', '2', '--jobs', '3', '--gpus', '0', '1', '2', '3'],
            None,
            '--jobs 3 x --gpus-per-run 2 needs 6 GPUs, but 4 are available (0,1,2,3)',
        ),
        (['--gpus-per-run', '1'], '', '--gpus-per-run 1 needs GPUs, but none is visible here'),
        (['--gpus-per-run', '-1'], None, '--gpus-per-run must be 0 (CPU) or more, got -1'),
        (['--gpus', '0', '1'], None, '--gpus shares GPUs out among the runs: it needs '),
        (
            ['--launcher', 'slurm', '--partition', 'p', '--gpus', '0'],
            None,
            '--gpus is not used with --launcher slurm',
        ),
        (['--gpus', '0', '0', '--gpus-per-run', '1'], None, '--gpus names a GPU twice: 0 0'),
        (['--launcher', 'slurm'], None, '--launcher slurm needs --partition PARTITION'),
        (
            ['--launcher', 'slurm', '--partition', 'p', '--gpus-per-run', '0'],
            None,
            '--gpus-per-run must be 1 or more, got 0',
        ),
        (['--partition', 'p'], None, '--partition is only used with --launcher slurm'),
    ],
)
def test_launch_options_that_cannot_work_are_refused_before_anything_runs(
    study, tiny_study, tmp_path, monkeypatch, capsys, options, visible, message
):
    if visible is not None:
        monkeypatch.setenv('CUDA_VISIBLE_DEVICES', visible)
    monkeypatch.setattr(study, 'run_tool', FakeTools())  # were one to start
    work = tmp_path / 'study'
    assert _main(study, monkeypatch, tiny_study(work, *options)) == 2
    assert message in capsys.readouterr().err
    assert not work.exists()


# --------------------------------------------------------------------------- Slurm
STAND_IN_TOOL = """
import json, os, os.path as osp, shutil, sys

# What tools/train.py or tools/test.py would leave (seed 1's training: interrupted once).
with open(osp.join(osp.dirname(osp.abspath(__file__)), 'stand_in.json')) as f:
    setup = json.load(f)
tool = osp.splitext(osp.basename(__file__))[0]
work_dir = sys.argv[sys.argv.index('--work-dir') + 1]
os.makedirs(work_dir, exist_ok=True)
if tool == 'test':
    with open(osp.join(work_dir, 'per_class_f1.csv'), 'w') as f:
        f.write(setup['table'])
elif setup['interrupt'] in work_dir and not osp.isfile(osp.join(work_dir, 'last_checkpoint')):
    with open(osp.join(work_dir, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(work_dir, 'epoch_1.pth'))
    sys.exit('interrupted after epoch 1')
else:
    shutil.copy(setup['checkpoint'], osp.join(work_dir, 'best_mg_f1_epoch_1.pth'))
"""

STAND_IN_SRUN = """#!/usr/bin/env bash
# Records its arguments and environment, then runs the task (what follows the options).
printf '%s\\n' "$@" > "{record}/srun-$$.args"
env > "{record}/srun-$$.env"
while [[ $# -gt 0 && $1 == -* ]]; do shift; done
exec "$@"
"""


@pytest.fixture
def slurm_stand_ins(study, tmp_path, monkeypatch):
    """The real slurm_*.sh beside stand-in tools, and a stand-in srun on PATH."""
    tools, record = tmp_path / 'tools', tmp_path / 'record'
    tools.mkdir()
    record.mkdir()
    for script in ('slurm_train.sh', 'slurm_test.sh'):
        shutil.copy(osp.join(REPO_ROOT, 'tools', script), tools / script)
    for tool in ('train', 'test'):
        (tools / f'{tool}.py').write_text(STAND_IN_TOOL)
    _save_best_checkpoint(str(tmp_path))
    setup = dict(table=TABLE, interrupt=os.sep + 'seed1' + os.sep)
    setup['checkpoint'] = str(tmp_path / 'best_mg_f1_epoch_1.pth')
    (tools / 'stand_in.json').write_text(json.dumps(setup))
    srun = tmp_path / 'bin' / 'srun'
    srun.parent.mkdir()
    srun.write_text(STAND_IN_SRUN.format(record=record))
    srun.chmod(0o755)
    monkeypatch.setenv('PATH', f'{srun.parent}{os.pathsep}{os.environ["PATH"]}')
    monkeypatch.setattr(study, 'TOOLS_DIR', str(tools))
    return record


def _srun_calls(record) -> list[dict]:
    """Each srun call since the last look: its arguments and its environment."""
    calls = []
    for args_file in sorted(record.glob('srun-*.args')):
        env_file = args_file.with_suffix('.env')
        env = dict(line.split('=', 1) for line in env_file.read_text().splitlines() if '=' in line)
        calls.append(dict(args=args_file.read_text().splitlines(), env=env))
        args_file.unlink()
        env_file.unlink()
    return calls


def test_slurm_runs_each_tool_as_a_job_and_caches_and_resumes_as_locally(
    study, tiny_study, slurm_stand_ins, tmp_path, monkeypatch, capsys
):
    work = tmp_path / 'study'
    options = ['--launcher', 'slurm', '--partition', 'gpu-part', '--gpus-per-run', '2']
    options += ['--jobs', '2', '--slurm-args=--time=2:00:00 --qos=low']
    args = tiny_study(work, *options, seeds=(0, 1))

    # seed 1's training is interrupted after its first epoch: that run fails.
    assert _main(study, monkeypatch, args) == 1
    assert (work / 'linear-probe' / 'seed0' / 'result.json').is_file()
    assert not (work / 'linear-probe' / 'seed1' / 'result.json').exists()
    first = _srun_calls(slurm_stand_ins)
    assert len(first) == 3  # seed 0: train and test; seed 1: train
    for call in first:
        seed = call['args'][1].rsplit('-', 1)[1]
        assert call['args'][:2] == [
            '--partition=gpu-part',
            f'--job-name=mmstda-linear-probe-{seed}',
        ]
        assert {'--gres=gpu:2', '--ntasks=2', '--ntasks-per-node=2'} <= set(call['args'])
        assert {'--time=2:00:00', '--qos=low'} <= set(call['args'])
        assert call['env']['GPUS'] == '2' and call['env']['GPUS_PER_NODE'] == '2'
        task = call['args'][call['args'].index(sys.executable) :]
        assert task[3] == str(work / 'linear-probe' / seed / 'config.py')
        assert task[task.index('--launcher') + 1] == 'slurm'
    # The two runs at once rendezvous on ports of their own.
    trains = [c for c in first if any(a.endswith('train.py') for a in c['args'])]
    assert len({c['env']['MASTER_PORT'] for c in trains}) == 2
    capsys.readouterr()

    # Rerun: seed 0 is cached, seed 1 resumes its training (--resume) and finishes.
    assert _main(study, monkeypatch, args) == 0
    assert '2 runs: 1 cached, 1 to run' in capsys.readouterr().out
    second = _srun_calls(slurm_stand_ins)
    assert [c['args'][1] for c in second] == ['--job-name=mmstda-linear-probe-seed1'] * 2
    train = next(c['args'] for c in second if any(a.endswith('train.py') for a in c['args']))
    assert train[train.index('--launcher') :] == [
        '--launcher',
        'slurm',
        '--work-dir',
        str(work / 'linear-probe' / 'seed1' / 'train'),
        '--resume',
    ]
    report = json.loads((work / 'results.json').read_text())
    assert [(r['seed'], r['launcher'], r['gpus_per_run']) for r in report['runs']] == [
        (0, 'slurm', 2),
        (1, 'slurm', 2),
    ]
    assert [r['test_f1'] for r in report['runs']] == pytest.approx([TABLE_F1, TABLE_F1])
    assert [r['resumed'] for r in report['runs']] == [False, True]
    assert report['runs'][1]['operating_point'] == POINT
    # The runs trained on the cluster's nodes: this host's CPU is not theirs.
    assert [r['processor'] for r in report['runs']] == [None, None]
    assert report['machine']['run_processors'] == ['not recorded']


# ------------------------------------------------------------------------- presets
def test_preset_says_what_it_leaves_out_and_checks_only_its_variants(
    study, tiny_study, tmp_path, monkeypatch, capsys
):
    from ablation.variants import PRESETS, default_variant_names

    args = tiny_study(tmp_path, '--check', '--preset', 'quick', variants=())
    # The tiny base lists no training sample_ids, so the label-budget variants
    # cannot run on it, and the check's exit status says so.
    assert _main(study, monkeypatch, args) == 1
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[-1]
        == f'check: {len(PRESETS["quick"]) - 2} of {len(PRESETS["quick"])} variants can run here'
    )
    assert 'stda-quarter: cannot run here: the label-budget variants need' in '\n'.join(lines)
    left_out = [name for name in default_variant_names() if name not in PRESETS['quick']]
    assert left_out and lines[0] == (
        f"preset 'quick': {len(PRESETS['quick'])} variants; leaves out {', '.join(left_out)}"
    )
    checked = [line.split(':')[0] for line in lines[1 : 1 + len(PRESETS['quick'])]]
    assert checked == list(PRESETS['quick'])
    assert not (tmp_path / 'linear-probe').exists()


def test_check_exits_0_when_every_chosen_variant_can_run(
    study, tiny_study, tmp_path, monkeypatch, capsys
):
    args = tiny_study(tmp_path, '--check', variants=('linear-probe', 'stda'))
    assert _main(study, monkeypatch, args) == 0
    assert capsys.readouterr().out.splitlines()[-1] == 'check: 2 of 2 variants can run here'
    assert not (tmp_path / 'linear-probe').exists()


@pytest.mark.parametrize(
    'variants, message',
    [
        (['linear-probe'], '--variants and --preset both choose the variants; give one of them'),
        ([], "unknown preset 'nope'; expected one of full, quick"),
    ],
)
def test_preset_errors_name_the_flag(
    study, tiny_study, tmp_path, monkeypatch, capsys, variants, message
):
    preset = 'quick' if variants else 'nope'
    args = tiny_study(tmp_path / 'study', '--preset', preset, variants=variants)
    assert _main(study, monkeypatch, args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / 'study').exists()


# -------------------------------------------------------------------- results dir
def test_results_dir_carries_finished_runs_to_a_fresh_work_dir(
    study, tiny_study, tmp_path, monkeypatch, capsys
):
    # The CPU as before: the tools get the environment as it is, no device assignment.
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '3')
    tools = FakeTools()
    monkeypatch.setattr(study, 'run_tool', tools)
    results = tmp_path / 'committed'
    published = results / 'linear-probe' / 'seed0.json'

    assert (
        _main(study, monkeypatch, tiny_study(tmp_path / 'one', '--results-dir', str(results))) == 0
    )
    assert [c['devices'] for c in tools.calls] == ['3', '3']
    train = tools.calls[0]['command']
    assert train[:2] == [sys.executable, osp.join(study.TOOLS_DIR, 'train.py')]
    finished = json.loads((tmp_path / 'one' / 'linear-probe' / 'seed0' / 'result.json').read_text())
    assert json.loads(published.read_text()) == finished

    # Another checkout or machine: a fresh work dir, the committed results.
    capsys.readouterr()
    fresh = tiny_study(tmp_path / 'two', '--results-dir', str(results))
    assert _main(study, monkeypatch, fresh) == 0
    assert '1 runs: 1 cached, 0 to run' in capsys.readouterr().out
    assert len(tools.calls) == 2  # nothing ran
    assert json.loads((tmp_path / 'two' / 'results.json').read_text())['runs'] == [finished]

    # A changed config does not count as finished: it runs, and its result replaces the old.
    changed = tiny_study(
        tmp_path / 'three', '--results-dir', str(results), cfg_options=['train_cfg.max_epochs=3']
    )
    assert _main(study, monkeypatch, changed) == 0
    assert len(tools.calls) == 4
    assert json.loads(published.read_text())['fingerprint'] != finished['fingerprint']

    # Runs finished before --results-dir was given go there too.
    late = tmp_path / 'late'
    assert _main(study, monkeypatch, tiny_study(tmp_path / 'one', '--results-dir', str(late))) == 0
    assert len(tools.calls) == 4
    assert json.loads((late / 'linear-probe' / 'seed0.json').read_text()) == finished


def test_fingerprint_is_the_same_in_every_checkout(study, monkeypatch):
    def key(root: str, trunk: str, world_size: int = 1) -> str:
        monkeypatch.setattr(study, 'REPO_ROOT', root)
        cfg = Config(dict(model=dict(backbone=dict(pretrained=trunk)), work_dir=f'{root}/w'))
        return study.fingerprint(cfg, world_size)

    here = key('/home/a/mmstda', '/home/a/mmstda/checkpoints/trunk.pth')
    assert key('/scratch/b/mmstda', '/scratch/b/mmstda/checkpoints/trunk.pth') == here
    assert key('/scratch/b/mmstda', 'checkpoints/trunk.pth') == here
    # Another file is another run; so is a run of two processes (twice the batch).
    assert key('/home/a/mmstda', '/home/a/other/checkpoints/trunk.pth') != here
    assert key('/home/a/mmstda', '/home/a/mmstda/checkpoints/trunk.pth', world_size=2) != here


# ----------------------------------------------------------------------- SMG base
def test_check_of_the_smg_config_names_what_is_missing_here(study, monkeypatch, capsys):
    smg = Config.fromfile(osp.join(REPO_ROOT, SMG_CONFIG))
    trunk, data_root = smg.model.backbone.pretrained, smg.train_dataloader.dataset.data_root
    if osp.exists(osp.join(REPO_ROOT, trunk)) or osp.exists(osp.join(REPO_ROOT, data_root)):
        pytest.skip('the SMG weights or data are on this machine')
    # A script can test the status: 1 while anything is missing.
    assert _main(study, monkeypatch, ['--base-config', SMG_CONFIG, '--check']) == 1
    lines = capsys.readouterr().out.splitlines()
    reports = {line.split(':')[0]: line for line in lines}
    # The 3D CNN trains from scratch: nothing but the data is missing for it.
    assert reports['x3d'].startswith('x3d: buildable, can run here')
    # The ViT-g variants build (a trunk of a billion parameters) but need the missing trunk.
    total = re.search(r' of ([\d,]+) parameters train', reports['stda']).group(1)
    assert reports['stda'].startswith('stda: buildable (') and int(total.replace(',', '')) > 1e9
    assert reports['stda'].endswith(
        f"cannot run here: variant 'stda' needs the pretrained trunk {trunk}, which does not exist"
    )
    # The label budgets take a quarter of SMG's challenge training split: they build
    # too, and miss only what every ViT-g row misses (x3d-quarter nothing but data).
    assert reports['stda-quarter'].startswith('stda-quarter: buildable (')
    assert reports['stda-quarter'].endswith(
        f'needs the pretrained trunk {trunk}, which does not exist'
    )
    assert reports['x3d-quarter'].startswith('x3d-quarter: buildable, can run here')
    assert reports['data missing'].startswith('data missing: the train set of the base config')
    assert repr(data_root) in reports['data missing']
    assert lines[-1].startswith('check: nothing can run here without the data above')
