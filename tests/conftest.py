import os.path as osp
import sys

import cv2
import numpy as np
import pytest
import torch

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

# The tools' own packages (tools/_helpers, tools/analysis/ablation) are imported as the
# tools import them, from the tools' folders; appended, so that tools/test.py does not
# shadow the standard library's test package.
for _folder in (osp.join(REPO_ROOT, 'tools'), osp.join(REPO_ROOT, 'tools', 'analysis')):
    if _folder not in sys.path:
        sys.path.append(_folder)

# The models under test are tiny: on a 2-core machine, thread start-up per op
# costs more than a second thread gains.
torch.set_num_threads(1)


def write_video(path: str, num_frames: int, size: int = 32, fps: float = 28.0, seed: int = 0):
    """Write a small mp4 of random-texture frames with OpenCV."""
    rng = np.random.default_rng(seed)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), fps, (size, size))
    for _ in range(num_frames):
        writer.write(rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
    writer.release()


@pytest.fixture(scope='session')
def toy_videos(tmp_path_factory) -> str:
    """A folder with 4 labelled 8-frame videos and an mmaction ``ann.txt``."""
    root = tmp_path_factory.mktemp('toy_videos')
    lines = []
    for index in range(4):
        name = f'video{index}.mp4'
        write_video(str(root / name), num_frames=8, seed=index)
        lines.append(f'{name} {index % 2}')
    (root / 'ann.txt').write_text('\n'.join(lines) + '\n')
    return str(root)


@pytest.fixture(scope='session')
def repo_root() -> str:
    return REPO_ROOT


@pytest.fixture(scope='session')
def toy_cfg_options(toy_videos) -> list[str]:
    """``--cfg-options`` pointing the toy recognizer config at ``toy_videos``."""
    return [
        f'train_dataloader.dataset.ann_file={toy_videos}/ann.txt',
        f'train_dataloader.dataset.data_prefix.video={toy_videos}',
    ]


@pytest.fixture(scope='session')
def damaged_video(tmp_path_factory) -> str:
    """A 200-frame 32 px mp4 whose middle fifth is zeroed: decoding fails from frame 71.

    The container still declares 200 frames, so opening and probing it succeed.
    """
    path = tmp_path_factory.mktemp('damaged') / 'damaged.mp4'
    write_video(str(path), num_frames=200)
    data = bytearray(path.read_bytes())
    start, length = int(len(data) * 0.4), int(len(data) * 0.2)
    data[start : start + length] = bytes(length)
    path.write_bytes(bytes(data))
    return str(path)
