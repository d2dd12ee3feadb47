"""Online inference refuses what would give a silently wrong result."""

import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import test_online_infer_tool
import torch
from test_online_infer_tool import CONFIG
from test_online_recognizer import _config, _video

from mmstda.apis import init_online_recognizer
from mmstda.utils import CheckpointError, UserInputError

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_checkpoint_of_another_model_is_refused(tmp_path):
    path = tmp_path / 'unrelated.pth'
    torch.save({'state_dict': {'fc.weight': torch.zeros(2, 2)}}, path)
    with pytest.raises(
        CheckpointError, match=r'unrelated\.pth does not match the model: \d+ model'
    ):
        init_online_recognizer(_config(), str(path))


def test_checkpoint_of_the_same_model_loads(tmp_path):
    torch.manual_seed(1)
    source = init_online_recognizer(_config())
    path = tmp_path / 'same.pth'
    torch.save({'state_dict': source.model.state_dict()}, path)
    torch.manual_seed(2)
    loaded = init_online_recognizer(_config(), str(path))
    for name, value in source.model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[name], value), name


@pytest.mark.parametrize(
    'frame_interval, error, message',
    [
        (0, ValueError, 'frame_interval must be an int >= 1, got 0'),
        (2.5, TypeError, 'frame_interval must be an int >= 1, got 2.5'),
    ],
)
def test_bad_frame_interval_is_refused(frame_interval, error, message):
    # The config says 3: a bad explicit value must not fall back to it.
    with pytest.raises(error, match=message):
        init_online_recognizer(_config(frame_interval=3), frame_interval=frame_interval)


def test_grayscale_chunk_is_reported_with_its_own_shape():
    recognizer = init_online_recognizer(_config())
    gray = np.zeros((5, 32, 32), np.uint8)
    with pytest.raises(ValueError, match=r'got uint8 \(5, 32, 32\) .*convert grayscale'):
        recognizer.process(gray)


def test_empty_first_chunk_does_not_fix_the_frame_size():
    recognizer = init_online_recognizer(_config())
    assert recognizer.process(np.zeros((0, 10, 10, 3), np.uint8)) == []
    recognizer.process(_video(3, height=40, width=48))
    assert recognizer.num_frames_seen == 3


def test_online_infer_refuses_a_video_that_stops_decoding_early(damaged_video, tmp_path):
    config = tmp_path / 'cfg.py'
    config.write_text(CONFIG)
    refused, partial = tmp_path / 'preds.csv', tmp_path / 'partial.csv'
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    command = [sys.executable, 'tools/online_infer.py', damaged_video, str(config)]
    command += ['--threads', '1']  # a tiny model: a second thread only competes for the cores
    # Both runs at once: each is mostly the tool starting up.
    runs = [
        subprocess.Popen(
            [*command, '--out', str(out), *extra],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for out, extra in ((refused, []), (partial, ['--allow-partial']))
    ]
    (_, refused_err), (_, partial_err) = (run.communicate(timeout=120) for run in runs)

    assert runs[0].returncode == 2, refused_err[-2000:]
    assert f'error: {damaged_video}: decoding stopped at frame 71 of the 200 frames' in refused_err
    assert '--allow-partial' in refused_err and 'Traceback' not in refused_err
    # The rows written while it played are taken back: they would pass for the whole video.
    assert 'preds.csv removed: incomplete' in refused_err
    assert not refused.exists()

    assert runs[1].returncode == 0, partial_err[-2000:]
    assert 'WARNING: ' in partial_err and 'keeping the first 71 frames' in partial_err
    rows = partial.read_text().splitlines()[1:]
    assert rows and all(int(row.split(',')[3]) <= 71 for row in rows)


def test_bad_annotation_file_is_a_user_error(tmp_path):
    ann = tmp_path / 'bad_finelabels.csv'
    ann.write_text('1,2\n')
    with pytest.raises(UserInputError, match='bad_finelabels.csv:1: expected label'):
        test_online_infer_tool._load_tool().read_finelabels(str(ann))
