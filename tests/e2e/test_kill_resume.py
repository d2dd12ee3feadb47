"""Kill a training run with SIGKILL mid-epoch, resume it, and get the same model."""

import glob
import os
import os.path as osp
import signal
import time

import torch

from mmstda.utils import load_checkpoint_file

EPOCHS = ['train_cfg.max_epochs=3', 'train_dataloader.dataset.windows_per_video=12']
# The demo's dataloader settings (configs/_base_/datasets/synthetic_smg.py) and its
# seed, without --deterministic: exactness must not depend on worker history.
WORKERS = ['train_dataloader.num_workers=2', 'train_dataloader.persistent_workers=True']
# 6 iterations per epoch: ASBAHook then updates the difficulty at epoch ends only.
# An update inside an epoch reaches batches that workers prefetched before it or
# not, depending on timing (README, "Reliability").
ASBA_AT_EPOCH_ENDS = ['custom_hooks.0.interval=6']
OPTIONS = [*EPOCHS, *WORKERS, *ASBA_AT_EPOCH_ENDS]
NO_VALIDATE = ['--no-validate']


def _log_text(work_dir) -> str:
    return ''.join(open(p).read() for p in glob.glob(osp.join(work_dir, '*', '*.log')))


def _wait_for(predicate, timeout_s: float = 300.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, 'timed out'
        time.sleep(0.05)


def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path, run_tiny):
    reference = tmp_path / 'reference'
    done = run_tiny('train', '--work-dir', str(reference), *NO_VALIDATE, cfg_options=OPTIONS)
    assert done.returncode == 0, done.stderr[-3000:]

    killed = tmp_path / 'killed'
    process = run_tiny(
        'train', '--work-dir', str(killed), *NO_VALIDATE, cfg_options=OPTIONS, popen=True
    )
    try:
        # Kill inside epoch 2: its first iterations are logged, epoch 1 is saved.
        _wait_for(lambda: 'Epoch(train) [2][2/' in _log_text(killed))
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    assert osp.isfile(killed / 'epoch_1.pth') and not osp.isfile(killed / 'epoch_2.pth')

    resumed = run_tiny(
        'train', '--work-dir', str(killed), '--resume', *NO_VALIDATE, cfg_options=OPTIONS
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert 'resumed epoch: 1' in resumed.stdout + resumed.stderr

    want = load_checkpoint_file(str(reference / 'epoch_3.pth'))
    got = load_checkpoint_file(str(killed / 'epoch_3.pth'))
    assert want['state_dict'].keys() == got['state_dict'].keys()
    for name, value in want['state_dict'].items():
        torch.testing.assert_close(got['state_dict'][name], value, rtol=0, atol=1e-5, msg=name)
    # ASBA's difficulty travels with the checkpoint and is restored on resume.
    assert 'asba_state' in want and 'asba_state' in got
    for key, value in want['asba_state'].items():
        if isinstance(value, torch.Tensor):
            torch.testing.assert_close(got['asba_state'][key], value, rtol=0, atol=1e-6)
        else:
            assert got['asba_state'][key] == value, key
