"""Temporal transforms that choose the frames of a window and keep its segments in step."""

from collections.abc import Sequence

import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

from mmstda.utils import class_balanced_weights


def window_segments(
    video_segments: np.ndarray,
    video_labels: np.ndarray,
    window_start_frame: float,
    span_frames: float,
    speed: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Ground truths of a video seen from inside one window.

    Args:
        video_segments (np.ndarray): ``(M, 2)`` absolute ``[start, end]`` native frames.
        video_labels (np.ndarray): ``(M,)`` 0-based labels.
        window_start_frame (float): Native frame where the window starts.
        span_frames (float): Nominal window length in native frames
            (``window_frames * frame_interval``).
        speed (float): Native frames per nominal frame (a window played ``speed`` times
            faster covers ``speed * span_frames`` native frames). Defaults to 1.0.

    Returns:
        tuple[np.ndarray, np.ndarray]: float32 ``(N, 2)`` segments in nominal frames
        relative to the window start, clipped to ``[0, span_frames]``, and int64
        ``(N,)`` labels; only segments that overlap the window are kept.
    """
    relative = (np.asarray(video_segments, np.float64).reshape(-1, 2) - window_start_frame) / speed
    clipped = np.clip(relative, 0, span_frames)
    keep = clipped[:, 1] > clipped[:, 0]
    return clipped[keep].astype(np.float32), np.asarray(video_labels, np.int64)[keep]


def _frame_inds(start: int, window_frames: int, step: float, total_frames: int) -> np.ndarray:
    # Past the end of a short video the last frame repeats, like mmaction's SampleFrames.
    inds = start + np.round(np.arange(window_frames) * step).astype(np.int64)
    return np.clip(inds, 0, total_frames - 1)


@TRANSFORMS.register_module()
class SampleMGWindow(BaseTransform):
    """Choose a window of a long video and express its ground truths in window frames.

    In test mode (``results['window_start_frame']`` is an int, set by the dataset)
    the window is kept where it is. In training (``window_start_frame`` None) a
    position is drawn with numpy's global RNG (which :class:`SMGDataset` seeds per
    sample from the run's seed, the epoch and the window index during training):

    * with probability ``gesture_centred_ratio`` the window is centred on one
      ground truth of the video (class-balanced choice once ``set_class_counts``
      was called and ``class_balanced`` is True), shifted by up to
      ``centre_jitter_ratio`` of the window span;
    * with probability ``background_ratio`` it is a window without any ground truth
      (when the video has room for one);
    * otherwise it is uniform over the video, redrawn up to ``max_tries`` times while
      it holds no ground truth, then centred on a ground truth. A training window
      is therefore never empty unless background windows are asked for (or the
      video has no ground truth at all).

    **Class of a gesture window.** Once ``set_class_counts`` was called, every
    window also carries ``gesture_class_prob`` (:attr:`gesture_class_prob`):
    the distribution of the class a gesture window of this sampler shows.
    :class:`ASBATransform` draws the class of a background window from it, so
    that augmentation strength tells nothing about whether a gesture is present
    (a background window augmented like a frequency-drawn class would be
    weaker than the class-balanced gesture windows: with SMG's counts at
    neutral difficulty, mean intensity 0.33 against 0.41). Recording it here
    rather than configuring it in ASBA keeps the two from disagreeing.

    Required keys: ``total_frames``, ``window_frames``, ``frame_interval``,
    ``video_gt_segments``, ``video_gt_labels``, ``window_start_frame`` (int or None).

    Added or modified keys: ``window_start_frame``, ``frame_inds``, ``clip_len``,
    ``num_clips``, ``gt_segments``, ``gt_labels``, ``gesture_class_prob`` (once
    the class counts are set).

    Args:
        gesture_centred_ratio (float): Share of training windows centred on a
            ground truth. Defaults to 0.5.
        background_ratio (float): Share of training windows without ground truth.
            Defaults to 0.0.
        class_balanced (bool): Choose the ground truth to centre on with
            class-balanced weights (effective number of samples), so rare classes
            are seen more. Defaults to True.
        centre_jitter_ratio (float): Largest shift of a centred window, as a share of
            its span. Defaults to 0.25.
        max_tries (int): Redraws of a uniform window that holds no ground truth.
            Defaults to 10.
    """

    def __init__(
        self,
        gesture_centred_ratio: float = 0.5,
        background_ratio: float = 0.0,
        class_balanced: bool = True,
        centre_jitter_ratio: float = 0.25,
        max_tries: int = 10,
    ) -> None:
        for name, value in (
            ('gesture_centred_ratio', gesture_centred_ratio),
            ('background_ratio', background_ratio),
            ('centre_jitter_ratio', centre_jitter_ratio),
        ):
            if not 0 <= value <= 1:
                raise ValueError(f'{name} must be in [0, 1], got {value}')
        if gesture_centred_ratio + background_ratio > 1:
            raise ValueError(
                'gesture_centred_ratio + background_ratio must be <= 1, got '
                f'{gesture_centred_ratio} + {background_ratio}'
            )
        if max_tries < 1:
            raise ValueError(f'max_tries must be >= 1, got {max_tries}')
        self.gesture_centred_ratio = gesture_centred_ratio
        self.background_ratio = background_ratio
        self.class_balanced = class_balanced
        self.centre_jitter_ratio = centre_jitter_ratio
        self.max_tries = max_tries
        self.class_weights: np.ndarray | None = None
        self.gesture_class_prob: np.ndarray | None = None

    def set_class_counts(self, counts: Sequence[int]) -> None:
        """Use class-balanced weights from the training counts to pick gestures.

        Also sets :attr:`gesture_class_prob`, the distribution of the class of a
        training window that holds a gesture. Such a window is either centred on
        a ground truth, picked with weights ``w_k`` (class-balanced, or 1 without
        ``class_balanced``) among the video's instances, or placed uniformly until
        it holds one, which finds instances about as often as they occur. Over
        the training set (instances pooled) the first gives ``p_k ~ n_k * w_k``
        (nearly uniform over the classes present, with class-balanced weights),
        the second ``p_k ~ n_k``; they mix in the proportions
        ``gesture_centred_ratio`` and ``1 - gesture_centred_ratio -
        background_ratio``. With SMG's config (0.5, 0.1) 4/9 of the gesture
        windows are placed uniformly, so the class-balanced pick alone would
        overshoot: mean ASBA intensity 0.475 at neutral difficulty, where
        gesture windows get 0.415 (simulated with SMG's counts spread over 30
        synthetic videos, 64-frame windows) and the mix 0.411. Left out, and that
        small: windows holding several gestures, gesture durations, the
        per-video normalisation of the pick.

        Args:
            counts (Sequence[int]): Training instances per class, length K.
        """
        frequency = np.maximum(np.asarray(counts, dtype=np.float64), 0.0)
        if frequency.ndim != 1:
            raise ValueError(f'counts must be a 1-D list of instances per class, got {counts!r}')
        # With no instance at all there is nothing to balance or draw.
        if frequency.sum() <= 0:
            return
        if self.class_balanced:
            self.class_weights = np.asarray(class_balanced_weights(list(counts)), np.float64)
        # The same expression as ASBATransform's class frequencies: without class
        # balancing a background window draws exactly as it did before.
        frequency = frequency / frequency.sum()
        prob = frequency
        if self.class_weights is not None and self.gesture_centred_ratio > 0:
            centred = frequency * self.class_weights
            centred = centred / centred.sum()
            centred_share = self.gesture_centred_ratio
            uniform_share = 1.0 - self.gesture_centred_ratio - self.background_ratio
            prob = (centred_share * centred + uniform_share * frequency) / (
                centred_share + uniform_share
            )
        # Shared by reference with every window's results: nobody may change it.
        prob.setflags(write=False)
        self.gesture_class_prob = prob

    def _centred_start(self, segments, labels, span, last_start) -> int:
        if self.class_weights is not None:
            weights = self.class_weights[labels]
            weights = weights / weights.sum()
        else:
            weights = None
        index = np.random.choice(len(segments), p=weights)
        centre = segments[index].mean()
        jitter = np.random.uniform(-1, 1) * self.centre_jitter_ratio * span
        return int(np.clip(round(centre - span / 2 + jitter), 0, last_start))

    def _has_target(self, segments, start, span) -> bool:
        return bool(np.any((segments[:, 1] > start) & (segments[:, 0] < start + span)))

    def _train_start(self, segments, labels, span, last_start) -> int:
        if len(segments) == 0:
            return int(np.random.randint(0, last_start + 1))
        draw = np.random.uniform()
        if draw < self.gesture_centred_ratio:
            return self._centred_start(segments, labels, span, last_start)
        want_target = draw >= self.gesture_centred_ratio + self.background_ratio
        for _ in range(self.max_tries):
            start = int(np.random.randint(0, last_start + 1))
            if self._has_target(segments, start, span) == want_target:
                return start
        return self._centred_start(segments, labels, span, last_start) if want_target else start

    def transform(self, results: dict) -> dict:
        """Pick the window and fill in its frames and ground truths."""
        total_frames = int(results['total_frames'])
        window_frames = int(results['window_frames'])
        interval = int(results['frame_interval'])
        span = window_frames * interval
        segments = np.asarray(results['video_gt_segments'], np.float32).reshape(-1, 2)
        labels = np.asarray(results['video_gt_labels'], np.int64)
        start = results.get('window_start_frame')
        if start is None:
            start = self._train_start(segments, labels, span, max(0, total_frames - span))
        results['window_start_frame'] = int(start)
        if self.gesture_class_prob is not None:
            results['gesture_class_prob'] = self.gesture_class_prob
        results['frame_inds'] = _frame_inds(int(start), window_frames, interval, total_frames)
        results['clip_len'] = window_frames
        results['num_clips'] = 1
        results['gt_segments'], results['gt_labels'] = window_segments(
            segments, labels, start, span
        )
        return results

    def __repr__(self) -> str:
        return (
            f'{self.__class__.__name__}(gesture_centred_ratio={self.gesture_centred_ratio}, '
            f'background_ratio={self.background_ratio}, class_balanced={self.class_balanced}, '
            f'centre_jitter_ratio={self.centre_jitter_ratio}, max_tries={self.max_tries})'
        )


@TRANSFORMS.register_module()
class TemporalSpeedJitter(BaseTransform):
    """Play a training window faster or slower, keeping its segments consistent.

    A speed ``s`` (log-uniform in ``speed_range``) makes the ``window_frames`` clip
    frames ``frame_interval * s`` native frames apart, around the window's centre.
    The segments are rescaled so clip frame ``i`` still sits at nominal offset
    ``i * frame_interval``. When the new window would lose every ground truth the
    original window held, the transform keeps the original. Place it after
    ``SampleMGWindow`` and before decoding; leave it out of test pipelines.

    Required keys: ``total_frames``, ``window_frames``, ``frame_interval``,
    ``window_start_frame``, ``video_gt_segments``, ``video_gt_labels``,
    ``gt_segments``.

    Added or modified keys: ``window_start_frame``, ``frame_inds``, ``gt_segments``,
    ``gt_labels``, ``speed_factor``.

    Args:
        speed_range (Sequence[float]): Smallest and largest speed. Defaults to
            (0.8, 1.25).
        prob (float): Probability of changing the speed. Defaults to 0.5.
    """

    def __init__(self, speed_range: Sequence[float] = (0.8, 1.25), prob: float = 0.5) -> None:
        if len(speed_range) != 2 or not 0 < speed_range[0] <= speed_range[1]:
            raise ValueError(
                f'speed_range must be (low, high) with 0 < low <= high, got {speed_range}'
            )
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        self.speed_range = tuple(float(v) for v in speed_range)
        self.prob = prob

    def transform(self, results: dict) -> dict:
        """Resample the window's frames at a random speed."""
        results['speed_factor'] = 1.0
        if np.random.uniform() >= self.prob:
            return results
        low, high = np.log(self.speed_range)
        speed = float(np.exp(np.random.uniform(low, high)))
        total_frames = int(results['total_frames'])
        window_frames = int(results['window_frames'])
        interval = int(results['frame_interval'])
        span = window_frames * interval
        centre = results['window_start_frame'] + span / 2
        last_start = max(0.0, total_frames - span * speed)
        start = int(round(np.clip(centre - span * speed / 2, 0, last_start)))
        segments, labels = window_segments(
            results['video_gt_segments'], results['video_gt_labels'], start, span, speed
        )
        if len(segments) == 0 and len(results['gt_segments']) > 0:
            return results
        results['window_start_frame'] = start
        results['frame_inds'] = _frame_inds(start, window_frames, interval * speed, total_frames)
        results['gt_segments'], results['gt_labels'] = segments, labels
        results['speed_factor'] = speed
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(speed_range={self.speed_range}, prob={self.prob})'
