"""Synthetic SMG-like videos in the SMG start-kit layout.

Each video shows one seated "subject" (head, torso, legs and a bright hand blob) in
front of a textured background. A micro-gesture is the hand going to a class-specific
body region and moving there with a class-specific temporal pattern; classes twin
each other by region (same place, different motion) or by pattern (same motion,
different place), so telling them apart needs both *where* and *how*. Non-gesture
motion (hand fidgets at other places, body sway, a flickering screen in the
background), global illumination drift and sensor noise keep a plain motion detector
from solving the task.

Everything is deterministic given ``SyntheticSMGConfig.seed``. Frame indices in the
written ``*_finelabels.csv`` are 0-based and ``end_frame`` is exclusive: the hand is
away from rest on frames ``start_frame <= t < end_frame``.
"""

import csv
import json
import os
import os.path as osp
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np
from tqdm import tqdm

from .smg_meta import SMG_CHALLENGE_SPLITS, SMG_CLASSES, SMG_TRAIN_COUNTS

# Body regions as (y, x) fractions of the frame for a subject at the nominal position.
REGIONS = {
    'hair': (0.10, 0.42),
    'eyes': (0.19, 0.50),
    'face': (0.29, 0.59),
    'neck': (0.38, 0.50),
    'collar': (0.46, 0.38),
    'shoulder': (0.43, 0.70),
    'chest': (0.57, 0.50),
    'waist': (0.66, 0.74),
    'lap': (0.76, 0.44),
    'legs': (0.90, 0.38),
    'front': (0.52, 0.18),
}
REST_POSITION = (0.80, 0.62)

# Label i (1-based) -> (region, pattern). Twins by region: neck {1, 4, 6}, chest {3, 11},
# waist {7, 9}, legs {5, 10}, collar {15, 16}. Twins by pattern: rub {2, 5, 8},
# hold {3, 7, 10, 14}, scratch {6, 11, 12}, tap {4, 9, 15}, circle {13, 16}.
CLASS_SPECS = (
    ('neck', 'shrug'),
    ('eyes', 'rub'),
    ('chest', 'hold'),
    ('neck', 'tap'),
    ('legs', 'rub'),
    ('neck', 'scratch'),
    ('waist', 'hold'),
    ('lap', 'rub'),
    ('waist', 'tap'),
    ('legs', 'hold'),
    ('chest', 'scratch'),
    ('face', 'scratch'),
    ('hair', 'circle'),
    ('shoulder', 'hold'),
    ('collar', 'tap'),
    ('collar', 'circle'),
    ('front', 'wave'),
)

# Period in native frames (at 28 fps) and amplitude in units of the base amplitude.
# Periods stay >= 6 frames so the patterns survive a frame_interval of 2.
PATTERNS = {
    'circle': (36.0, 1.0),
    'scratch': (6.0, 0.6),
    'rub': (14.0, 1.0),
    'tap': (10.0, 1.0),
    'shrug': (28.0, 1.0),
    'hold': (1.0, 0.0),
    'wave': (20.0, 2.2),
}

# Places the hand wanders to when fidgeting: on or near the body, never a gesture region.
FIDGET_SPOTS = ((0.86, 0.74), (0.70, 0.27), (0.30, 0.84), (0.95, 0.62), (0.58, 0.86))
FIDGET_KINDS = ('wander', 'sway', 'screen')
FIDGET_PROBS = (0.5, 0.25, 0.25)

# Screen in the background (top-left), as (y0, y1, x0, x1) fractions of the frame.
SCREEN_BOX = (0.04, 0.18, 0.04, 0.22)


@dataclass
class SyntheticSMGConfig:
    """Knobs of the synthetic SMG generator.

    Args:
        num_videos (int): Number of videos (subjects), 3 to 40. They are mapped onto
            the challenge split ids by :func:`challenge_sample_ids`. Defaults to 12.
        minutes (float): Length of each video in minutes. Defaults to 1.0.
        frame_size (int): Height and width of the square frames in pixels.
            Defaults to 64.
        fps (float): Frame rate. Defaults to 28.0.
        gestures_per_minute (float): Micro-gestures per minute of video. Real SMG has
            about 6; more gives a short demo enough training signal. Defaults to 12.0.
        fidgets_per_minute (float): Non-gesture motion events per minute.
            Defaults to 12.0.
        mean_gesture_frames (float): Mean gesture duration in frames (SMG: 51.3).
            Defaults to 51.0.
        noise_std (float): Standard deviation of the per-pixel sensor noise, in grey
            levels. Defaults to 3.0.
        subject_shift (float): Largest shift of a subject's body from the frame
            centre, as a share of the frame; its size varies by the same share.
            Body regions are about 0.09 of the frame apart, so shifts much larger
            than half of that make a held-out subject's regions overlap other
            regions of the training subjects. Defaults to 0.04 (the frozen,
            pretrained demo meets its targets there; the from-scratch demo once
            needed 0.02).
        seed (int): Seed of every random choice. Defaults to 0.
        min_train_count (int): Smallest number of gestures of every class in the
            training split (the long tail's floor: a class needs a few examples to
            be learnable, and a rare-class F1 needs some to test on). The split
            otherwise follows SMG's training shares. Defaults to 1.
    """

    num_videos: int = 12
    minutes: float = 1.0
    frame_size: int = 64
    fps: float = 28.0
    gestures_per_minute: float = 12.0
    fidgets_per_minute: float = 12.0
    mean_gesture_frames: float = 51.0
    noise_std: float = 3.0
    subject_shift: float = 0.04
    seed: int = 0
    min_train_count: int = 1

    def __post_init__(self) -> None:
        if not 3 <= self.num_videos <= 40:
            raise ValueError(f'num_videos must be in [3, 40], got {self.num_videos}')
        if isinstance(self.min_train_count, bool) or not isinstance(self.min_train_count, int):
            raise TypeError(f'min_train_count must be an int >= 1, got {self.min_train_count!r}')
        if self.min_train_count < 1:
            raise ValueError(f'min_train_count must be an int >= 1, got {self.min_train_count}')
        if self.frame_size < 32:
            raise ValueError(f'frame_size must be >= 32 pixels, got {self.frame_size}')
        for name in ('minutes', 'fps', 'mean_gesture_frames'):
            if getattr(self, name) <= 0:
                raise ValueError(f'{name} must be > 0, got {getattr(self, name)}')
        for name in ('gestures_per_minute', 'fidgets_per_minute', 'noise_std', 'subject_shift'):
            if getattr(self, name) < 0:
                raise ValueError(f'{name} must be >= 0, got {getattr(self, name)}')

    @property
    def num_frames(self) -> int:
        return int(round(self.minutes * 60 * self.fps))


@dataclass
class VideoPlan:
    """Everything needed to render one video; cheap to build and to pickle."""

    sample_id: int
    split: str
    num_frames: int
    # (label 1-based, start_frame, end_frame exclusive)
    gestures: list = field(default_factory=list)
    # (kind, start_frame, end_frame exclusive)
    fidgets: list = field(default_factory=list)
    appearance_seed: int = 0
    render_seed: int = 0


def sample_folder(sample_id: int) -> str:
    """Start-kit folder name of a sample id, e.g. ``Sample0031``."""
    return f'Sample{sample_id:04d}'


def challenge_sample_ids(num_videos: int) -> dict:
    """Map ``num_videos`` synthetic videos onto the challenge split ids.

    Validation and test each get ``max(1, round(num_videos / 8))`` videos (5 of 40 in
    the real split), training gets the rest. Ids follow the challenge ranges: training
    from 1, validation from 31, test from 36. With 12 videos: train 1-8, val 31-32,
    test 36-37.

    Args:
        num_videos (int): Number of videos, 3 to 40.

    Returns:
        dict: ``{'train': [ids], 'val': [ids], 'test': [ids]}``.
    """
    if not 3 <= num_videos <= 40:
        raise ValueError(f'num_videos must be in [3, 40], got {num_videos}')
    num_held_out = max(1, int(round(num_videos / 8)))
    num_train = num_videos - 2 * num_held_out
    return dict(
        train=list(SMG_CHALLENGE_SPLITS['train'][:num_train]),
        val=list(SMG_CHALLENGE_SPLITS['val'][:num_held_out]),
        test=list(SMG_CHALLENGE_SPLITS['test'][:num_held_out]),
    )


def allocate_class_counts(total: int, min_count: int = 0) -> np.ndarray:
    """Split ``total`` instances over the 17 classes following SMG's long tail.

    Largest-remainder rounding of ``total * p_c`` with ``p_c`` from the SMG training
    counts; then every class is raised to ``min_count`` (taking from the largest
    classes, so the total is kept when it allows).

    Args:
        total (int): Number of instances to split.
        min_count (int): Smallest count of any class. Defaults to 0.

    Returns:
        np.ndarray: int64 ``(17,)`` counts in label order.
    """
    share = np.asarray(SMG_TRAIN_COUNTS, dtype=np.float64)
    share = share / share.sum()
    exact = total * share
    counts = np.floor(exact).astype(np.int64)
    remainder_order = np.argsort(-(exact - counts), kind='stable')
    counts[remainder_order[: total - counts.sum()]] += 1
    for index in np.flatnonzero(counts < min_count):
        missing = min_count - counts[index]
        counts[index] = min_count
        for _ in range(missing):
            # Ties go to the later (smaller-ranked) class so the tail stays sorted.
            donor = len(counts) - 1 - int(np.argmax(counts[::-1]))
            if counts[donor] > max(min_count, 1) + 1:
                counts[donor] -= 1
    return counts


def plan_dataset(cfg: SyntheticSMGConfig) -> list:
    """Decide, for every video, its split, gestures (label, timing) and fidgets.

    Returns:
        list[VideoPlan]: One plan per video, in sample-id order.
    """
    rng = np.random.default_rng([cfg.seed, 0])
    splits = challenge_sample_ids(cfg.num_videos)
    num_frames = cfg.num_frames
    per_video = int(round(cfg.gestures_per_minute * cfg.minutes))
    fidgets_per_video = int(round(cfg.fidgets_per_minute * cfg.minutes))
    plans = []
    for split, sample_ids in splits.items():
        total = per_video * len(sample_ids)
        # Every class must be learnable, so the training split holds each at least
        # min_train_count times.
        counts = allocate_class_counts(
            total, min_count=cfg.min_train_count if split == 'train' else 0
        )
        labels = rng.permutation(np.repeat(np.arange(1, len(SMG_CLASSES) + 1), counts))
        for video_index, sample_id in enumerate(sample_ids):
            video_labels = labels[video_index :: len(sample_ids)]
            video_rng = np.random.default_rng([cfg.seed, 1, sample_id])
            gestures, fidgets = _plan_timeline(
                video_rng, video_labels, fidgets_per_video, num_frames, cfg
            )
            plans.append(
                VideoPlan(
                    sample_id=sample_id,
                    split=split,
                    num_frames=num_frames,
                    gestures=gestures,
                    fidgets=fidgets,
                    appearance_seed=int(video_rng.integers(2**31)),
                    render_seed=int(video_rng.integers(2**31)),
                )
            )
    return sorted(plans, key=lambda plan: plan.sample_id)


def _plan_timeline(rng, labels, num_fidgets, num_frames, cfg):
    """Place gestures and fidgets without overlap, separated by random gaps."""
    min_gap_frames = 6
    gesture_frames = np.clip(
        rng.normal(cfg.mean_gesture_frames, 0.2 * cfg.mean_gesture_frames, len(labels)),
        0.55 * cfg.mean_gesture_frames,
        1.6 * cfg.mean_gesture_frames,
    ).round()
    fidget_frames = np.clip(
        rng.normal(0.8 * cfg.mean_gesture_frames, 0.2 * cfg.mean_gesture_frames, num_fidgets),
        0.4 * cfg.mean_gesture_frames,
        1.4 * cfg.mean_gesture_frames,
    ).round()
    kinds = rng.choice(len(FIDGET_KINDS), size=num_fidgets, p=FIDGET_PROBS)
    events = [('gesture', int(label), int(d)) for label, d in zip(labels, gesture_frames)]
    events += [('fidget', FIDGET_KINDS[k], int(d)) for k, d in zip(kinds, fidget_frames)]
    order = rng.permutation(len(events))
    events = [events[i] for i in order]
    busy = sum(event[2] for event in events) + min_gap_frames * (len(events) + 1)
    if busy > num_frames:
        raise ValueError(
            f'{len(events)} events of {busy} frames in all do not fit into a video of '
            f'{num_frames} frames: lower gestures_per_minute or fidgets_per_minute'
        )
    gaps = min_gap_frames + np.floor(
        rng.dirichlet(np.ones(len(events) + 1)) * (num_frames - busy)
    ).astype(int)
    gestures, fidgets = [], []
    cursor = 0
    for event, gap in zip(events, gaps):
        start = cursor + int(gap)
        end = start + event[2]
        (gestures if event[0] == 'gesture' else fidgets).append((event[1], start, end))
        cursor = end
    return gestures, fidgets


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _envelope(duration: int) -> np.ndarray:
    """Weight of the away-from-rest pose over an event: ramp up, stay, ramp down."""
    ramp = max(3, int(round(0.18 * duration)))
    tau = np.arange(duration, dtype=np.float64)
    return _smoothstep((tau + 1) / ramp) * _smoothstep((duration - tau) / ramp)


def _pattern_offset(pattern: str, duration: int, amplitude: float, rng) -> np.ndarray:
    """Offsets ``(duration, 2)`` (dy, dx) in frame fractions of a temporal pattern."""
    period, scale = PATTERNS[pattern]
    period *= rng.uniform(0.85, 1.15)
    amp = amplitude * scale * rng.uniform(0.8, 1.2)
    phase = rng.uniform(0, 2 * np.pi)
    tau = np.arange(duration, dtype=np.float64)
    angle = 2 * np.pi * tau / period + phase
    offset = np.zeros((duration, 2))
    if pattern in ('circle', 'wave'):
        offset[:, 0], offset[:, 1] = amp * np.sin(angle), amp * np.cos(angle)
    elif pattern in ('scratch', 'rub'):
        offset[:, 1] = amp * np.sin(angle)
    elif pattern == 'tap':
        offset[:, 0] = -amp * np.abs(np.sin(angle / 2))
    elif pattern == 'shrug':
        offset[:, 0] = amp * np.sin(angle)
    return offset


class _Subject:
    """Appearance of one subject: background, body sprite, hand, lighting."""

    def __init__(self, seed: int, size: int, shift: float):
        rng = np.random.default_rng(seed)
        self.size = size
        self.offset = rng.uniform(-shift, shift, 2)
        self.scale = 1 + rng.uniform(-1.75 * shift, 1.75 * shift)
        self.background = self._background(rng, size)
        self.body_rgb, self.body_alpha = self._body(rng, size)
        # The hand is the brightest thing in the scene, clearly lighter than the face
        # it touches, so a gesture at the head stays visible at 64 px.
        self.hand_rgb = np.array(
            [rng.uniform(235, 255), rng.uniform(215, 240), rng.uniform(180, 215)], np.float32
        )
        self.hand_radius = size * rng.uniform(0.045, 0.055)
        self.screen_rgb = rng.uniform(60, 200, 3).astype(np.float32)
        gradient = rng.uniform(-0.15, 0.15)
        self.light = (1 + gradient * np.linspace(-1, 1, size, dtype=np.float32))[None, :, None]
        self.drift_period_frames = rng.uniform(600, 1800)
        self.drift_phase = rng.uniform(0, 2 * np.pi)
        self.drift_amplitude = rng.uniform(0.04, 0.1)

    def place(self, point) -> np.ndarray:
        """Frame fractions of a nominal point for this subject's position and size."""
        return 0.5 + self.scale * (np.asarray(point, np.float64) - 0.5) + self.offset

    @staticmethod
    def _background(rng, size):
        coarse = rng.uniform(0, 1, (6, 6, 3)).astype(np.float32)
        texture = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
        stripes = np.sin(2 * np.pi * rng.uniform(2, 6) * (xx * np.cos(rng.uniform(0, 3)) + yy))
        base = rng.uniform(90, 170, 3).astype(np.float32)
        return base + 45 * (texture - 0.5) + 12 * stripes[..., None]

    def _body(self, rng, size):
        # Draw at 4x and shrink so the edges are anti-aliased.
        big = size * 4
        rgb = np.zeros((big, big, 3), np.float32)
        alpha = np.zeros((big, big), np.float32)
        shirt = rng.uniform(30, 120, 3)
        trousers = rng.uniform(20, 90, 3)
        skin = rng.uniform(120, 170) * np.array([1.0, 0.78, 0.62])
        hair = rng.uniform(10, 60, 3)

        def pt(y, x):
            p = self.place((y, x)) * big
            return int(p[1]), int(p[0])

        def length(fraction):
            return max(1, int(fraction * self.scale * big))

        parts = [
            ('rect', ((0.70, 0.30), (1.02, 0.70)), trousers),
            ('rect', ((0.36, 0.26), (0.74, 0.74)), shirt),
            ('rect', ((0.30, 0.45), (0.38, 0.55)), skin),
            ('ellipse', ((0.21, 0.50), (0.11, 0.09)), skin),
            ('ellipse', ((0.13, 0.50), (0.05, 0.085)), hair),
        ]
        for kind, geometry, colour in parts:
            colour = tuple(float(c) for c in colour)
            for target, value in ((rgb, colour), (alpha, 1.0)):
                if kind == 'rect':
                    (y0, x0), (y1, x1) = geometry
                    cv2.rectangle(target, pt(y0, x0), pt(y1, x1), value, -1)
                else:
                    (yc, xc), (ry, rx) = geometry
                    axes = (length(rx), length(ry))
                    cv2.ellipse(target, pt(yc, xc), axes, 0, 0, 360, value, -1)
        rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(alpha, (size, size), interpolation=cv2.INTER_AREA)[..., None]
        return rgb, alpha


def _hand_and_scene_tracks(plan: VideoPlan, subject: _Subject, cfg: SyntheticSMGConfig):
    """Per-frame hand position (frame fractions), body shift (pixels), screen level."""
    rng = np.random.default_rng([plan.render_seed, 0])
    num_frames = plan.num_frames
    rest = subject.place(REST_POSITION)
    # Idle tremor: a smooth, sub-pixel wobble of the resting hand.
    kernel = np.ones(9) / 9
    tremor = np.stack(
        [np.convolve(rng.normal(0, 0.01, num_frames), kernel, 'same') for _ in range(2)], 1
    )
    hand = rest + tremor
    body_shift = np.zeros(num_frames)
    screen = np.ones(num_frames)
    amplitude = 0.05
    for label, start, end in plan.gestures:
        region, pattern = CLASS_SPECS[label - 1]
        duration = end - start
        jitter = rng.uniform(-0.012, 0.012, 2)
        target = subject.place(REGIONS[region]) + jitter
        target = target + _pattern_offset(pattern, duration, amplitude, rng)
        weight = _envelope(duration)[:, None]
        hand[start:end] = hand[start:end] + weight * (target - hand[start:end])
    for kind, start, end in plan.fidgets:
        duration = end - start
        weight = _envelope(duration)
        if kind == 'wander':
            spot = subject.place(FIDGET_SPOTS[rng.integers(len(FIDGET_SPOTS))])
            tau = np.arange(duration)[:, None]
            periods = rng.uniform(16, 40, (1, 2))
            path = 0.6 * amplitude * np.sin(2 * np.pi * tau / periods + rng.uniform(0, 6, 2))
            hand[start:end] += weight[:, None] * (spot + path - hand[start:end])
        elif kind == 'sway':
            shift = rng.choice([-1, 1]) * rng.uniform(1.5, 2.5) * cfg.frame_size / 64
            body_shift[start:end] = shift * weight
        else:
            tau = np.arange(duration)
            flicker = np.sign(np.sin(2 * np.pi * tau / rng.uniform(8, 16)))
            screen[start:end] = 1 + rng.uniform(0.3, 0.6) * weight * flicker
    return hand, body_shift, screen


def render_video(plan: VideoPlan, cfg: SyntheticSMGConfig, out_dir: str) -> str:
    """Render one planned video and write its start-kit files.

    Args:
        plan (VideoPlan): The video to render.
        cfg (SyntheticSMGConfig): Generator settings.
        out_dir (str): Dataset root; the files go to ``out_dir/SampleXXXX/``.

    Returns:
        str: Path of the written video.
    """
    size = cfg.frame_size
    subject = _Subject(plan.appearance_seed, size, cfg.subject_shift)
    hand, body_shift, screen = _hand_and_scene_tracks(plan, subject, cfg)
    noise_rng = np.random.default_rng([plan.render_seed, 1])
    folder = osp.join(out_dir, sample_folder(plan.sample_id))
    os.makedirs(folder, exist_ok=True)
    name = sample_folder(plan.sample_id)
    video_path = osp.join(folder, f'{name}_color.mp4')
    writer = cv2.VideoWriter(video_path, cv2.VideoWriter_fourcc(*'mp4v'), cfg.fps, (size, size))
    if not writer.isOpened():
        raise RuntimeError(f'OpenCV cannot write mp4v video {video_path}')
    y0, y1, x0, x1 = (int(round(v * size)) for v in SCREEN_BOX)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    composites = {}
    tau = np.arange(plan.num_frames)
    drift = 1 + subject.drift_amplitude * np.sin(
        2 * np.pi * tau / subject.drift_period_frames + subject.drift_phase
    )
    for t in range(plan.num_frames):
        # Body shifts are quantised to 1/4 pixel so composites can be cached.
        shift = round(body_shift[t] * 4) / 4
        if shift not in composites:
            matrix = np.float32([[1, 0, shift], [0, 1, 0]])
            rgb = cv2.warpAffine(subject.body_rgb, matrix, (size, size))
            alpha = cv2.warpAffine(subject.body_alpha, matrix, (size, size))[..., None]
            composites[shift] = subject.background * (1 - alpha) + rgb * alpha
        frame = composites[shift].copy()
        frame[y0:y1, x0:x1] = subject.screen_rgb * screen[t]
        cy, cx = hand[t, 0] * size, hand[t, 1] * size + shift
        r = subject.hand_radius
        top, bottom = max(0, int(cy - r - 2)), min(size, int(cy + r + 3))
        left, right = max(0, int(cx - r - 2)), min(size, int(cx + r + 3))
        if top < bottom and left < right:
            dist = np.hypot(yy[top:bottom, left:right] - cy, xx[top:bottom, left:right] - cx)
            cover = np.clip(r + 0.5 - dist, 0, 1)[..., None]
            patch = frame[top:bottom, left:right]
            frame[top:bottom, left:right] = patch * (1 - cover) + subject.hand_rgb * cover
        frame = frame * (subject.light * drift[t])
        frame += noise_rng.normal(0, cfg.noise_std, frame.shape).astype(np.float32)
        rgb = np.clip(frame, 0, 255).astype(np.uint8)
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    with open(osp.join(folder, f'{name}_finelabels.csv'), 'w', newline='') as f:
        csv.writer(f).writerows(plan.gestures)
    with open(osp.join(folder, f'{name}_data.csv'), 'w', newline='') as f:
        csv.writer(f).writerow([plan.num_frames, f'{cfg.fps:g}', 0])
    return video_path


def _render_job(args):
    return render_video(*args)


def generate_synthetic_smg(
    out_dir: str, cfg: SyntheticSMGConfig | None = None, workers: int = 1, progress: bool = False
) -> dict:
    """Write a synthetic SMG-like dataset into ``out_dir``.

    Besides the start-kit files, ``out_dir/synthetic_smg.json`` records the settings,
    the split ids, the class specs (region, pattern) and per-split class counts.

    Args:
        out_dir (str): Dataset root to write into (created if missing).
        cfg (SyntheticSMGConfig, optional): Generator settings. Defaults to
            ``SyntheticSMGConfig()``.
        workers (int): Processes that render videos in parallel. Defaults to 1.
        progress (bool): Show a tqdm progress bar. Defaults to False.

    Returns:
        dict: The content of ``synthetic_smg.json``.
    """
    cfg = cfg or SyntheticSMGConfig()
    os.makedirs(out_dir, exist_ok=True)
    plans = plan_dataset(cfg)
    jobs = [(plan, cfg, out_dir) for plan in plans]
    with tqdm(total=len(jobs), desc='videos', disable=not progress) as bar:
        if workers > 1:
            with ProcessPoolExecutor(workers) as pool:
                for _ in pool.map(_render_job, jobs):
                    bar.update()
        else:
            for job in jobs:
                _render_job(job)
                bar.update()
    summary = dict(
        config=asdict(cfg),
        splits=challenge_sample_ids(cfg.num_videos),
        class_specs=[
            dict(label=i + 1, name=name, region=spec[0], pattern=spec[1])
            for i, (name, spec) in enumerate(zip(SMG_CLASSES, CLASS_SPECS))
        ],
        class_counts={
            split: np.bincount(
                [g[0] - 1 for p in plans if p.split == split for g in p.gestures],
                minlength=len(SMG_CLASSES),
            ).tolist()
            for split in ('train', 'val', 'test')
        },
        label_convention='0-based frames, end_frame exclusive',
    )
    with open(osp.join(out_dir, 'synthetic_smg.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    return summary
