"""Trivial baselines on SMG-layout data, scored with the start-kit F1 (tIoU > 0.3).

* motion: a frame-difference motion detector; every detection gets the most frequent
  training class. It is reported at its default threshold and at the best threshold
  of a sweep on the evaluated split itself (an upper bound for such a detector).
* oracle-region (synthetic data only): motion energy measured at each class's true
  body region (read from the generator), labelled with the most frequent training
  class of that region. It knows *where* but not *how*, so pattern twins (classes
  sharing a region) are confused.

    python tools/analysis/trivial_baselines.py data/synthetic_smg --split test
"""

import argparse
import json
import os.path as osp
import sys
from collections import defaultdict

import cv2
import decord
import numpy as np

try:
    import mmstda  # noqa: F401
except ImportError:  # run from a source checkout that is not pip-installed
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    import mmstda  # noqa: F401

from mmstda.datasets import SMGDataset
from mmstda.datasets.synthetic_smg import (
    CLASS_SPECS,
    REGIONS,
    SyntheticSMGConfig,
    _Subject,
    plan_dataset,
)
from mmstda.evaluation import segment_f1

SMOOTH_FRAMES = 9  # moving average of the motion signal (about 1/3 s at 28 fps)
MIN_SEGMENT_FRAMES = 10  # shorter runs are noise, not gestures (SMG mean: 51 frames)
# Runs closer than this are one event: the motion of a gesture dips between the reach
# and the return of the hand.
MERGE_GAP_FRAMES = 15


def load_gray(path: str) -> np.ndarray:
    """All frames of a video as float32 grey ``(N, H, W)``, lightly blurred."""
    frames = decord.VideoReader(path, num_threads=1)
    rgb = frames.get_batch(list(range(len(frames)))).asnumpy()
    gray = rgb.astype(np.float32).mean(-1)
    return np.stack([cv2.GaussianBlur(frame, (3, 3), 0) for frame in gray])


def motion_map(gray: np.ndarray) -> np.ndarray:
    """``(N, H, W)`` per-pixel motion: frame difference above the noise level."""
    diff = np.abs(np.diff(gray, axis=0, prepend=gray[:1]))
    # Sensor noise and illumination drift move every pixel a little; the median
    # absolute difference measures that floor per video.
    noise = np.median(diff) + 1e-6
    return np.clip(diff - 3 * noise, 0, None)


def smooth(signal: np.ndarray, frames: int = SMOOTH_FRAMES) -> np.ndarray:
    return np.convolve(signal, np.ones(frames) / frames, mode='same')


def runs_above(
    signal: np.ndarray, threshold: float, merge_gap_frames: int = MERGE_GAP_FRAMES
) -> list[tuple[int, int]]:
    """``[start, end)`` runs where ``signal > threshold``, merged and length-filtered."""
    active = np.concatenate([[False], signal > threshold, [False]])
    edges = np.flatnonzero(np.diff(active.astype(np.int8)))
    runs = []
    for start, end in zip(edges[::2], edges[1::2]):
        if runs and start - runs[-1][1] < merge_gap_frames:
            runs[-1] = (runs[-1][0], int(end))
        else:
            runs.append((int(start), int(end)))
    return [(s, e) for s, e in runs if e - s >= MIN_SEGMENT_FRAMES]


def motion_detections(
    energy: np.ndarray, threshold: float, label: int, merge_gap_frames: int = MERGE_GAP_FRAMES
) -> list[tuple]:
    runs = runs_above(energy, threshold, merge_gap_frames)
    return [(label, s, e, float(energy[s:e].mean())) for s, e in runs]


def adaptive_threshold(energy: np.ndarray, level: float) -> float:
    """A level between the video's quiet (10th) and busy (95th) motion percentiles."""
    quiet, busy = np.percentile(energy, [10, 95])
    return float(quiet + level * (busy - quiet))


def oracle_region_detections(
    motion: np.ndarray,
    video_id: str,
    plans: dict,
    level: float,
    label_of: dict,
    subject_shift: float,
) -> list[tuple]:
    """Detections from motion energy at the true class regions of this subject."""
    plan = plans[video_id]
    size = motion.shape[1]
    subject = _Subject(plan.appearance_seed, size, subject_shift)
    half = max(2, int(round(0.08 * size)))
    names = sorted({region for region, _ in CLASS_SPECS})
    energies = []
    for name in names:
        cy, cx = (subject.place(REGIONS[name]) * size).round().astype(int)
        box = motion[:, max(0, cy - half) : cy + half + 1, max(0, cx - half) : cx + half + 1]
        energies.append(smooth(box.mean(axis=(1, 2))))
    energies = np.stack(energies)
    best = energies.argmax(0)
    detections = []
    for index, name in enumerate(names):
        signal = np.where(best == index, energies[index], 0)
        threshold = adaptive_threshold(energies[index], level)
        detections += motion_detections(signal, threshold, label_of[name])
    return detections


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('data_root', help='dataset root in the SMG start-kit layout')
    parser.add_argument('--split', default='test', help='split to score. Default: test')
    parser.add_argument(
        '--split-file',
        default='synthetic_smg.json',
        help='split file under data_root; empty for the challenge split. '
        'Default: synthetic_smg.json',
    )
    parser.add_argument(
        '--level',
        type=float,
        default=0.25,
        help='default threshold, between the quiet (0) and busy (1) motion levels',
    )
    parser.add_argument('--out', help='write the numbers to this JSON file')
    args = parser.parse_args()

    split_file = args.split_file if osp.isfile(osp.join(args.data_root, args.split_file)) else ''
    train = SMGDataset(data_root=args.data_root, split='train', split_file=split_file)
    evaluated = SMGDataset(data_root=args.data_root, split=args.split, split_file=split_file)
    head_label = int(np.argmax(train.class_counts))
    ground_truths = {
        v['video_id']: [
            (int(label), float(s), float(e))
            for label, (s, e) in zip(v['video_gt_labels'], v['video_gt_segments'])
        ]
        for v in evaluated.videos
    }

    motions, energies = {}, {}
    for video in evaluated.videos:
        motions[video['video_id']] = motion_map(load_gray(video['filename']))
        energies[video['video_id']] = smooth(motions[video['video_id']].mean(axis=(1, 2)))

    def score_motion(level: float, merge_gap_frames: int) -> dict:
        predictions = {
            vid: motion_detections(
                energy, adaptive_threshold(energy, level), head_label, merge_gap_frames
            )
            for vid, energy in energies.items()
        }
        scores = segment_f1(predictions, ground_truths, iou_thr=0.3, match='starter-kit')
        return dict(level=level, merge_gap_frames=merge_gap_frames, **scores)

    results = dict(split=args.split, num_gt=sum(len(g) for g in ground_truths.values()))
    results['motion_default'] = score_motion(args.level, MERGE_GAP_FRAMES)
    sweep = [
        score_motion(float(level), gap)
        for level in np.round(np.arange(0.05, 0.91, 0.05), 2)
        for gap in (1, 5, 10, 15, 20, 30)
    ]
    results['motion_best_threshold'] = max(sweep, key=lambda r: r['f1'])

    meta_path = osp.join(args.data_root, 'synthetic_smg.json')
    if osp.isfile(meta_path):
        with open(meta_path) as f:
            cfg = SyntheticSMGConfig(**json.load(f)['config'])
        plans = {f'Sample{p.sample_id:04d}': p for p in plan_dataset(cfg)}
        by_region = defaultdict(list)
        for label, (region, _) in enumerate(CLASS_SPECS):
            by_region[region].append(label)
        label_of = {
            region: max(labels, key=lambda label: train.class_counts[label])
            for region, labels in by_region.items()
        }
        predictions = {
            vid: oracle_region_detections(
                motion, vid, plans, args.level, label_of, cfg.subject_shift
            )
            for vid, motion in motions.items()
        }
        scores = segment_f1(predictions, ground_truths, iou_thr=0.3, match='starter-kit')
        results['oracle_region'] = dict(
            level=args.level, merge_gap_frames=MERGE_GAP_FRAMES, **scores
        )

    for name in ('motion_default', 'motion_best_threshold', 'oracle_region'):
        if name in results:
            r = results[name]
            print(
                f'{name:22s} level={r["level"]:.2f} gap={r["merge_gap_frames"]:2d}  '
                f'F1={r["f1"]:.3f}  P={r["precision"]:.3f}  '
                f'R={r["recall"]:.3f}  (#pred={r["num_pred"]}, #gt={r["num_gt"]})'
            )
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=2, default=float)


if __name__ == '__main__':
    main()
