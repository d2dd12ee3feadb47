"""tools/train.py, tools/test.py and tools/dist_train.sh, run as a user runs them."""

import os
import os.path as osp
import subprocess
import sys

from mmstda.utils import load_checkpoint_file

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

TOY_CONFIG = osp.join('tests', 'data', 'configs', 'toy_recognizer.py')


def run_tool(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    # Run from the repo root without PYTHONPATH, exactly as the README says.
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    return subprocess.run(
        args, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, **kwargs
    )


def test_resume_continues_at_epoch_2_with_saved_optimizer_state(tmp_path, toy_cfg_options):
    first = run_tool(
        [sys.executable, 'tools/train.py', TOY_CONFIG, '--work-dir', str(tmp_path),
         '--cfg-options', *toy_cfg_options, 'train_cfg.max_epochs=1']
    )  # fmt: skip
    assert first.returncode == 0, first.stderr[-3000:]
    after_one = load_checkpoint_file(str(tmp_path / 'epoch_1.pth'))
    assert after_one['meta']['epoch'] == 1

    resumed = run_tool(
        [sys.executable, 'tools/train.py', TOY_CONFIG, '--work-dir', str(tmp_path), '--resume',
         '--cfg-options', *toy_cfg_options, 'train_cfg.max_epochs=2']
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    log = resumed.stdout + resumed.stderr
    assert 'resumed epoch: 1' in log
    assert 'Epoch(train) [2]' in log and 'Epoch(train) [1]' not in log
    after_two = load_checkpoint_file(str(tmp_path / 'epoch_2.pth'))
    assert after_two['meta']['epoch'] == 2
    # 4 videos, batch 2: AdamW has taken 2 steps per epoch. Restarting from
    # scratch would leave 2, not 4.
    steps = [state['step'].item() for state in after_two['optimizer']['state'].values()]
    assert steps and all(step == 4 for step in steps)


def test_bad_config_path_is_one_clear_line(tmp_path):
    result = run_tool([sys.executable, 'tools/train.py', 'configs/does_not_exist.py'])
    assert result.returncode == 2
    assert 'Config file not found: configs/does_not_exist.py' in result.stderr
    assert 'Traceback' not in result.stderr


def test_misspelt_component_type_names_field_and_suggests(tmp_path, toy_cfg_options):
    result = run_tool(
        [sys.executable, 'tools/train.py', TOY_CONFIG, '--work-dir', str(tmp_path),
         '--cfg-options', *toy_cfg_options, 'model.backbone.type=VisionTransfromer']
    )  # fmt: skip
    assert result.returncode == 2
    assert "model.backbone.type='VisionTransfromer' is not a registered component" in (
        result.stderr
    )
    assert "Did you mean 'VisionTransformer'" in result.stderr
    assert 'Traceback' not in result.stderr


def test_test_tool_reports_missing_checkpoint(tmp_path):
    result = run_tool([sys.executable, 'tools/test.py', TOY_CONFIG, str(tmp_path / 'x.pth')])
    assert result.returncode == 2
    assert 'Checkpoint file not found' in result.stderr and 'x.pth' in result.stderr


def test_dist_train_on_two_cpu_processes_logs_on_both_ranks(tmp_path, toy_cfg_options):
    # PYTHON picks the interpreter: the venv's python need not be first on PATH.
    venv_bin = osp.dirname(sys.executable)
    path = os.pathsep.join(p for p in os.environ['PATH'].split(os.pathsep) if p != venv_bin)
    env = dict(os.environ, PORT=str(29500 + os.getpid() % 1000), PYTHON=sys.executable, PATH=path)
    result = subprocess.run(
        ['bash', 'tools/dist_train.sh', TOY_CONFIG, '2', '--work-dir', str(tmp_path),
         '--cfg-options', *toy_cfg_options, 'train_cfg.max_epochs=1']
        , cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    logs = {}
    for root, _, files in os.walk(tmp_path):
        logs.update({name: osp.join(root, name) for name in files if name.endswith('.log')})
    rank1 = [name for name in logs if name.endswith('_rank1.log')]
    rank0 = [name for name in logs if name not in rank1]
    assert len(rank0) == 1 and len(rank1) == 1, sorted(logs)
    for name in rank0 + rank1:
        text = open(logs[name]).read()
        assert 'Epoch(train) [1]' in text, name
    assert osp.isfile(tmp_path / 'epoch_1.pth')


def test_test_tool_takes_a_work_dir_and_reads_its_last_checkpoint(tmp_path):
    # No last_checkpoint record yet: the error names the work dir.
    result = run_tool([sys.executable, 'tools/test.py', TOY_CONFIG, str(tmp_path)])
    assert result.returncode == 2
    assert f'No checkpoint recorded in work dir {tmp_path}' in result.stderr
    # A record pointing at a missing file names that file.
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_9.pth'))
    result = run_tool([sys.executable, 'tools/test.py', TOY_CONFIG, str(tmp_path)])
    assert result.returncode == 2
    assert 'Checkpoint file not found' in result.stderr and 'epoch_9.pth' in result.stderr
