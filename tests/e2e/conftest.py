import os
import subprocess
import sys

import pytest

from mmstda.datasets.synthetic_smg import SyntheticSMGConfig, generate_synthetic_smg

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY_CONFIG = os.path.join('tests', 'data', 'configs', 'tiny_demo.py')


@pytest.fixture(scope='session')
def tiny_smg(tmp_path_factory) -> str:
    """Three one-minute 32 px synthetic videos: one each for train, val and test."""
    root = str(tmp_path_factory.mktemp('tiny_smg'))
    generate_synthetic_smg(root, SyntheticSMGConfig(num_videos=3, frame_size=32, seed=0))
    return root


@pytest.fixture(scope='session')
def run_tiny(tiny_smg):
    """Run a tool on the tiny demo config from the repo root, as a user would.

    ``run_tiny('train', *args)`` runs ``tools/train.py``; with ``nproc=2`` it runs
    ``tools/dist_train.sh`` instead (for ``'test'``, ``args[0]`` is the checkpoint).
    Training stops before the test split (``--no-test``) unless ``then_test=True``.
    """

    def run(
        tool: str,
        *args: str,
        cfg_options=(),
        popen: bool = False,
        nproc: int = 0,
        then_test: bool = False,
    ):
        if tool == 'train' and not then_test:
            args = (*args, '--no-test')
        data = [f'{s}_dataloader.dataset.data_root={tiny_smg}' for s in ('train', 'val', 'test')]
        options = ['--cfg-options', *data, *cfg_options]
        if not nproc:
            command = [sys.executable, f'tools/{tool}.py', TINY_CONFIG, *args, *options]
        elif tool == 'test':
            command = ['bash', 'tools/dist_test.sh', TINY_CONFIG, args[0], str(nproc)]
            command += [*args[1:], *options]
        else:
            command = ['bash', f'tools/dist_{tool}.sh', TINY_CONFIG, str(nproc), *args, *options]
        env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
        env.update(OMP_NUM_THREADS='1', PORT=str(29500 + os.getpid() % 1000), PYTHON=sys.executable)
        if popen:
            return subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        return subprocess.run(
            command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600
        )

    return run
