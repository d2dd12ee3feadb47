"""Windows per second of the SMG training pipeline: original-like video vs prepared copy.

    python tools/analysis/benchmark_data.py --work-dir work_dirs/benchmark_data

Builds an original-like video (synthetic SMG content upscaled to 1920x1080 with
per-frame sensor noise, H.264 with ffmpeg's default key-frame spacing), prepares a copy
with ``tools/data/prepare_smg.py``'s transcoder (short side 182), then times the
training pipeline of ``configs/_base_/datasets/smg.py`` (window sampling, mmaction's
``DecordInit``/``DecordDecode``, resize to short side 182, random crop 160, packing)
on both, in this one process and with the same windows.

    python tools/analysis/benchmark_data.py --demo

Times the demo's training pipeline (``configs/stda_demo.py``: 64-frame windows of the
one-minute 64 px synthetic videos, ASBA included) over one epoch of windows, once
with mmaction's ``DecordInit`` and once with ``CachedDecordInit`` (each video decoded
once, its first decode counted), in this one process, from the same random state.
"""

import argparse
import copy
import os
import os.path as osp
import shutil
import subprocess
import sys
import time

import numpy as np

try:
    import mmstda  # noqa: F401
except ImportError:  # run from a source checkout that is not pip-installed
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    import mmstda  # noqa: F401

from mmaction.registry import DATASETS, TRANSFORMS
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

from mmstda.datasets import SMGDataset
from mmstda.datasets.synthetic_smg import SyntheticSMGConfig, plan_dataset, render_video
from mmstda.datasets.video_prep import ffmpeg_exe, transcode_video

PIPELINE = [
    dict(type='SampleMGWindow', gesture_centred_ratio=0.5),
    dict(type='DecordInit'),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 182)),
    dict(type='RandomCrop', size=160),
    dict(type='PackMGInputs'),
]


def make_original(work_dir: str, minutes: float) -> str:
    """Write ``work_dir/original`` (one 1920x1080 H.264 sample) and return its root."""
    cfg = SyntheticSMGConfig(num_videos=3, minutes=minutes, frame_size=128)
    plan = plan_dataset(cfg)[0]
    small_root = osp.join(work_dir, 'small')
    small = render_video(plan, cfg, small_root)
    root = osp.join(work_dir, 'original')
    folder = osp.join(root, osp.basename(osp.dirname(small)))
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(osp.dirname(small)):
        if name.endswith('.csv'):
            shutil.copy2(osp.join(osp.dirname(small), name), folder)
    command = [
        ffmpeg_exe(), '-y', '-loglevel', 'error', '-i', small,
        '-vf', 'scale=1920:1080:flags=bicubic,noise=alls=6:allf=t',
        '-fps_mode', 'passthrough', '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '20',
        '-pix_fmt', 'yuv420p', osp.join(folder, osp.basename(small)),
    ]  # fmt: skip
    subprocess.run(command, check=True)
    return root


def windows_per_second(data_root: str, num_windows: int) -> float:
    dataset = SMGDataset(data_root=data_root, sample_ids=[1], window_frames=16, frame_interval=2)
    pipeline = Compose([TRANSFORMS.build(step) for step in PIPELINE])
    np.random.seed(0)
    info = dataset.get_data_info(0)
    pipeline(dict(info))  # warm-up: imports, first file open
    start = time.perf_counter()
    for _ in range(num_windows):
        packed = pipeline(dict(info))
    elapsed = time.perf_counter() - start
    assert tuple(packed['inputs'].shape) == (3, 16, 160, 160)
    return num_windows / elapsed


def demo_windows_per_second(init: str, num_windows: int | None) -> tuple[float, int]:
    """Windows/s of the demo's training pipeline with ``init`` opening the videos."""
    init_default_scope('mmaction')
    cfg = Config.fromfile('configs/stda_demo.py').train_dataloader.dataset
    cfg = copy.deepcopy(cfg)
    inits = [i for i, step in enumerate(cfg.pipeline) if step['type'].endswith('DecordInit')]
    if len(inits) != 1:
        raise SystemExit('configs/stda_demo.py: expected one *DecordInit step in its pipeline')
    cfg.pipeline[inits[0]] = dict(type=init)
    dataset = DATASETS.build(cfg)  # generates data/synthetic_smg on first use
    count = num_windows or len(dataset)
    np.random.seed(0)
    start = time.perf_counter()
    for index in range(count):
        packed = dataset[index % len(dataset)]
    elapsed = time.perf_counter() - start
    assert packed['inputs'].shape[1] == cfg.window_frames
    return count / elapsed, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/benchmark_data', help='scratch folder')
    parser.add_argument('--minutes', type=float, default=1.0, help='video length. Default: 1')
    parser.add_argument(
        '--windows', type=int, default=10, help='windows timed per file. Default: 10'
    )
    parser.add_argument(
        '--demo',
        action='store_true',
        help="time the demo's pipeline with DecordInit and CachedDecordInit instead",
    )
    parser.add_argument(
        '--demo-windows', type=int, help='windows timed with --demo. Default: one epoch'
    )
    args = parser.parse_args()

    if args.demo:
        rates = {}
        for init in ('DecordInit', 'CachedDecordInit'):
            rates[init], count = demo_windows_per_second(init, args.demo_windows)
            print(f'{init:18s} {rates[init]:7.1f} windows/s ({count} windows, one process)')
        print(f'ratio: {rates["CachedDecordInit"] / rates["DecordInit"]:.1f}x')
        return

    tic = time.perf_counter()
    original = make_original(args.work_dir, args.minutes)
    made = time.perf_counter() - tic
    prepared = osp.join(args.work_dir, 'prepared')
    tic = time.perf_counter()
    src = osp.join(original, 'Sample0001', 'Sample0001_color.mp4')
    transcode_video(src, osp.join(prepared, 'Sample0001', 'Sample0001_color.mp4'))
    for name in ('Sample0001_finelabels.csv', 'Sample0001_data.csv'):
        shutil.copy2(osp.join(original, 'Sample0001', name), osp.join(prepared, 'Sample0001'))
    prepare_s = time.perf_counter() - tic
    print(f'original-like video written in {made:.1f} s; prepared in {prepare_s:.1f} s')
    for name, root in (('original 1920x1080', original), ('prepared short side 182', prepared)):
        path = osp.join(root, 'Sample0001', 'Sample0001_color.mp4')
        rate = windows_per_second(root, args.windows)
        size_mb = osp.getsize(path) / 2**20
        print(f'{name:26s} {size_mb:8.1f} MiB  {rate:7.2f} windows/s (16 frames, interval 2)')


if __name__ == '__main__':
    main()
