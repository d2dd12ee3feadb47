"""tools/slurm_{train,test}.sh hand srun the right job, checked with a stand-in srun."""

import os
import os.path as osp
import subprocess
import sys

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture
def fake_srun(tmp_path):
    """An ``srun`` on PATH that writes its arguments, one per line, to a file."""
    record = tmp_path / 'srun_args.txt'
    srun = tmp_path / 'bin' / 'srun'
    srun.parent.mkdir()
    srun.write_text(f'#!/usr/bin/env bash\nprintf "%s\\n" "$@" > {record}\n')
    srun.chmod(0o755)
    env = dict(os.environ, PATH=f'{srun.parent}{os.pathsep}{os.environ["PATH"]}')
    env.update(
        GPUS='4', GPUS_PER_NODE='2', PYTHON=sys.executable, SRUN_ARGS='--qos=low --exclusive'
    )
    return env, record


@pytest.mark.parametrize(
    'script, args, tool',
    [
        ('slurm_train.sh', ['cfg.py', '--amp'], 'train.py'),
        ('slurm_test.sh', ['cfg.py', 'ckpt.pth', '--show-dir', 'viz'], 'test.py'),
    ],
)
def test_slurm_script_runs_the_tool_with_the_slurm_launcher(fake_srun, script, args, tool):
    env, record = fake_srun
    result = subprocess.run(
        ['bash', f'tools/{script}', 'gpu-part', 'job1', *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    words = record.read_text().splitlines()
    assert words[:8] == [
        '--partition=gpu-part', '--job-name=job1', '--gres=gpu:2', '--ntasks=4',
        '--ntasks-per-node=2', '--cpus-per-task=5', '--kill-on-bad-exit=1', '--qos=low',
    ]  # fmt: skip
    command = words[words.index(sys.executable) :]
    config_and_ckpt = args[:1] if tool == 'train.py' else args[:2]
    assert command == [
        sys.executable, '-u', f'tools/{tool}', *config_and_ckpt, '--launcher', 'slurm',
        *args[len(config_and_ckpt) :],
    ]  # fmt: skip
