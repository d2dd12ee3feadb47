"""Generate a synthetic SMG-like dataset in the SMG start-kit layout.

    python tools/data/make_synthetic_smg.py data/synthetic_smg --seed 0

Writes ``SampleXXXX/SampleXXXX_{color.mp4,finelabels.csv,data.csv}`` and
``synthetic_smg.json`` (settings, split ids, class specs and counts). The default
(12 one-minute 64x64 videos) maps onto the challenge ids as train 1-8, val 31-32,
test 36-37.
"""

import argparse
import os.path as osp
import sys
import time

try:
    import mmstda  # noqa: F401
except ImportError:  # run from a source checkout that is not pip-installed
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmstda.datasets.synthetic_smg import SyntheticSMGConfig, generate_synthetic_smg


def parse_args() -> argparse.Namespace:
    defaults = SyntheticSMGConfig()
    parser = argparse.ArgumentParser(description='Generate a synthetic SMG-like dataset')
    parser.add_argument('out_dir', help='dataset root to write')
    parser.add_argument(
        '--num-videos',
        type=int,
        default=defaults.num_videos,
        help=f'videos (subjects), 3-40. Default: {defaults.num_videos}',
    )
    parser.add_argument(
        '--minutes',
        type=float,
        default=defaults.minutes,
        help=f'minutes per video. Default: {defaults.minutes}',
    )
    parser.add_argument(
        '--frame-size',
        type=int,
        default=defaults.frame_size,
        help=f'frame height and width in pixels. Default: {defaults.frame_size}',
    )
    parser.add_argument(
        '--fps', type=float, default=defaults.fps, help=f'frame rate. Default: {defaults.fps}'
    )
    parser.add_argument(
        '--gestures-per-minute',
        type=float,
        default=defaults.gestures_per_minute,
        help=f'gesture density. Default: {defaults.gestures_per_minute}',
    )
    parser.add_argument(
        '--fidgets-per-minute',
        type=float,
        default=defaults.fidgets_per_minute,
        help=f'non-gesture motion events. Default: {defaults.fidgets_per_minute}',
    )
    parser.add_argument(
        '--noise-std',
        type=float,
        default=defaults.noise_std,
        help=f'sensor noise in grey levels. Default: {defaults.noise_std}',
    )
    parser.add_argument(
        '--subject-shift',
        type=float,
        default=defaults.subject_shift,
        help='largest body shift per subject, as a share of the frame. '
        f'Default: {defaults.subject_shift}',
    )
    parser.add_argument(
        '--seed', type=int, default=defaults.seed, help=f'random seed. Default: {defaults.seed}'
    )
    parser.add_argument('--workers', type=int, default=2, help='rendering processes. Default: 2')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = SyntheticSMGConfig(
        num_videos=args.num_videos,
        minutes=args.minutes,
        frame_size=args.frame_size,
        fps=args.fps,
        gestures_per_minute=args.gestures_per_minute,
        fidgets_per_minute=args.fidgets_per_minute,
        noise_std=args.noise_std,
        subject_shift=args.subject_shift,
        seed=args.seed,
    )
    start = time.perf_counter()
    summary = generate_synthetic_smg(args.out_dir, cfg, workers=args.workers, progress=True)
    print(f'wrote {cfg.num_videos} videos to {args.out_dir} in {time.perf_counter() - start:.1f} s')
    for split, ids in summary['splits'].items():
        print(f'  {split}: sample ids {ids}, class counts {summary["class_counts"][split]}')


if __name__ == '__main__':
    main()
