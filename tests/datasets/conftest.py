import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from mmstda.datasets.synthetic_smg import SyntheticSMGConfig, generate_synthetic_smg

# 3 subjects x 15 s at 32x32 with short gestures: the training video still holds
# every one of the 17 classes once.
TINY_CFG = dict(
    num_videos=3,
    minutes=0.25,
    frame_size=32,
    gestures_per_minute=12,
    fidgets_per_minute=8,
    mean_gesture_frames=12,
    seed=3,
)


@pytest.fixture(scope='session')
def tiny_smg_cfg() -> SyntheticSMGConfig:
    return SyntheticSMGConfig(**TINY_CFG)


@pytest.fixture(scope='session')
def tiny_smg(tmp_path_factory) -> str:
    """A tiny synthetic SMG dataset: train id 1, val id 31, test id 36."""
    root = tmp_path_factory.mktemp('tiny_smg')
    generate_synthetic_smg(str(root), SyntheticSMGConfig(**TINY_CFG))
    return str(root)


def write_sample(
    root,
    name: str,
    rows: list[str],
    num_frames: int = 40,
    declared_frames: int | None = None,
    video: bool = True,
    video_fps: float = 28,
    declared_fps: float | str = 28,
) -> None:
    """Write one start-kit sample folder with a random-texture 16x16 video."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f'{name}_finelabels.csv').write_text(''.join(row + '\n' for row in rows))
    declared = num_frames if declared_frames is None else declared_frames
    (folder / f'{name}_data.csv').write_text(f'{declared},{declared_fps},0\n')
    if video:
        rng = np.random.default_rng(0)
        path = str(folder / f'{name}_color.mp4')
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), video_fps, (16, 16))
        for _ in range(num_frames):
            writer.write(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8))
        writer.release()


@pytest.fixture
def make_sample():
    """``make_sample(root, name, rows, num_frames=40, declared_frames=None, video=True,
    video_fps=28, declared_fps=28)``."""
    return write_sample


REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def run_data_tool():
    """``run_data_tool('smg_to_json', *args)`` runs ``tools/data/<name>.py`` as a user would."""

    def run(name: str, *args: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
        return subprocess.run(
            [sys.executable, f'tools/data/{name}.py', *args],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    return run
