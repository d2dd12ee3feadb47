import os
import subprocess
import sys

import pytest

from mmstda.datasets.synthetic_smg import SyntheticSMGConfig, generate_synthetic_smg

E2E_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY_CONFIG = os.path.join('tests', 'data', 'configs', 'tiny_demo.py')


@pytest.fixture(scope='session')
def tiny_smg(tmp_path_factory) -> str:
    """Three one-minute 32 px synthetic videos: one each for train, val and test."""
    root = str(tmp_path_factory.mktemp('tiny_smg'))
    generate_synthetic_smg(root, SyntheticSMGConfig(num_videos=3, frame_size=32, seed=0))
    return root


@pytest.fixture(scope='session')
def run_tiny(tiny_smg):
    """Run tools/train.py or tools/test.py on the tiny demo config, as a user would."""

    def run(tool: str, *args: str, cfg_options=(), popen: bool = False, **kwargs):
        data = [
            f'{split}_dataloader.dataset.data_root={tiny_smg}' for split in ('train', 'val', 'test')
        ]
        command = [
            sys.executable,
            f'tools/{tool}.py',
            TINY_CONFIG,
            *args,
            '--cfg-options',
            *data,
            *cfg_options,
        ]
        env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
        env['OMP_NUM_THREADS'] = '1'
        if popen:
            return subprocess.Popen(
                command,
                cwd=E2E_REPO_ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        return subprocess.run(
            command,
            cwd=E2E_REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            **kwargs,
        )

    return run
