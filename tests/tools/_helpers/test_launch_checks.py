import glob
import os.path as osp

import pytest

from mmstda.utils.errors import UserInputError

from _helpers.launch import load_config, one_line

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CONFIGS = sorted(
    osp.relpath(p, REPO_ROOT)
    for p in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p
)


@pytest.fixture(autouse=True)
def _in_repo_root(monkeypatch):
    monkeypatch.chdir(REPO_ROOT)


def test_misspelt_pipeline_argument_names_the_step_and_suggests():
    options = {'train_dataloader.dataset.pipeline.0.gesture_centerd_ratio': 0.3}
    with pytest.raises(UserInputError) as info:
        load_config('configs/stda_demo.py', options)
    assert str(info.value) == (
        'configs/stda_demo.py: train_dataloader.dataset.pipeline[0].gesture_centerd_ratio is '
        "not an argument of SampleMGWindow. Did you mean 'gesture_centred_ratio', "
        "'centre_jitter_ratio'?"
    )


@pytest.mark.parametrize('path', CONFIGS)
def test_shipped_configs_pass_the_argument_check(path):
    # No false alarm: every dataset and pipeline argument they use exists.
    assert load_config(path).filename.endswith(path)


def test_error_from_a_dataloader_worker_is_cut_to_its_message():
    class SMGDataError(UserInputError):
        pass

    wrapped = SMGDataError(
        'Caught SMGDataError in DataLoader worker process 0.\n'
        'Original Traceback (most recent call last):\n'
        '  File "x.py", line 1, in f\n'
        'mmstda.datasets.smg_files.SMGDataError: v.mp4: cannot decode frame 80'
    )
    assert one_line(wrapped) == 'v.mp4: cannot decode frame 80'
