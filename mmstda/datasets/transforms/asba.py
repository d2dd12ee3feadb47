"""Adaptive Soft Balanced Augmentation (ASBA).

A window is augmented harder when its gestures belong to rare classes and when
the model currently finds those classes hard. The difficulty signal is produced
in the training process by :class:`mmstda.engine.hooks.ASBAHook` and published
to the dataloader workers through shared memory (see :class:`ASBATransform`).
"""

from collections.abc import Sequence

import cv2
import numpy as np
import torch
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

from mmstda.utils.class_balance import RARITY_SCALES, class_rarity

_BORDER_MODES = {
    'reflect': cv2.BORDER_REFLECT_101,
    'replicate': cv2.BORDER_REPLICATE,
    'constant': cv2.BORDER_CONSTANT,
}
# ITU-R BT.601 luma weights for RGB frames (mmaction's channel order).
_LUMA_RGB = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _check_range(name: str, value: Sequence[float], low: float, high: float) -> tuple:
    """Validate a ``(value at intensity 0, value at intensity 1)`` pair."""
    if (
        not isinstance(value, Sequence)
        or isinstance(value, str)
        or len(value) != 2
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        raise TypeError(
            f'{name} must be a pair (value at intensity 0, value at intensity 1), got {value!r}'
        )
    if not all(low <= v <= high for v in value):
        raise ValueError(f'{name} values must lie in [{low}, {high}], got {tuple(value)}')
    return float(value[0]), float(value[1])


def asba_intensity(
    rarity: np.ndarray | float,
    difficulty: np.ndarray | float,
    rarity_weight: float = 0.5,
    min_intensity: float = 0.0,
    max_intensity: float = 1.0,
) -> np.ndarray:
    """Soft augmentation intensity of a class from its rarity and difficulty.

    ``intensity = min + (max - min) * (w * rarity + (1 - w) * difficulty)``: a
    convex mix, so it is continuous, never decreases when either input grows,
    and spans exactly ``[min_intensity, max_intensity]`` with no threshold.

    Args:
        rarity (np.ndarray | float): Class rarity in [0, 1], shape ``(K,)`` or
            scalar (``mmstda.utils.class_rarity``).
        difficulty (np.ndarray | float): Class difficulty in [0, 1], same shape.
        rarity_weight (float): Weight ``w`` of rarity against difficulty, in
            [0, 1]. Defaults to 0.5.
        min_intensity (float): Intensity of a common, easy class. Defaults to 0.0.
        max_intensity (float): Intensity of the rarest, hardest class.
            Defaults to 1.0.

    Returns:
        np.ndarray: Intensity in ``[min_intensity, max_intensity]``, the
        broadcast shape of the inputs.
    """
    rarity = np.clip(np.asarray(rarity, dtype=np.float64), 0.0, 1.0)
    difficulty = np.clip(np.asarray(difficulty, dtype=np.float64), 0.0, 1.0)
    mix = rarity_weight * rarity + (1.0 - rarity_weight) * difficulty
    return min_intensity + (max_intensity - min_intensity) * mix


@TRANSFORMS.register_module()
class ASBATransform(BaseTransform):
    """Adaptive Soft Balanced Augmentation of a decoded window.

    Place it after decoding and resizing/cropping to the final frame size, and
    before packing: it works on ``imgs`` as a list of ``T`` uint8 RGB frames
    ``(H, W, 3)`` and keeps ``T``, ``H`` and ``W``.

    **Intensity.** Each class ``k`` gets
    ``intensity_k = asba_intensity(rarity_k, difficulty_k)`` (see
    :func:`asba_intensity`). Rarity is ``class_rarity`` of the training counts
    with ``rarity_scale`` (by default ``E_med / (E_med + E_k)``, the effective
    number ``E_k = (1 - beta^n_k) / (1 - beta)`` measured against the median
    class's; ``beta = (N - 1) / N`` for N training instances unless ``beta`` is
    given; see :func:`mmstda.utils.class_rarity` for SMG's values). The counts
    come from the dataset, which calls :meth:`set_class_counts` after loading
    its annotations. Difficulty is ``initial_difficulty`` (the same for all
    classes, hence neutral) until :class:`~mmstda.engine.hooks.ASBAHook`
    publishes the per-class detection miss rate. A window takes the intensity
    of its most demanding gesture (the max over ``gt_labels``).

    **Background windows.** A window without a gesture takes the intensity of
    a class drawn at random with the distribution of the class a gesture window
    shows: the class it could have shown. Its augmentation thus comes from the
    same distribution as a gesture window's, and "augmented or not", "noisy or
    clean", "how strongly" carry no information about whether a gesture is
    present, a cue that would not exist at test time. A fixed background
    intensity (e.g. ``min_intensity`` = 0, i.e. never augmented) would be such
    a label leak, and so would a draw with another distribution than the
    window sampler's: :class:`SampleMGWindow` with ``class_balanced=True`` (the
    SMG configs) shows rare classes far more often than they occur, so
    background windows drawn with the training frequencies were augmented less
    (SMG's counts at neutral difficulty: mean intensity 0.33 against 0.41). The
    distribution is therefore the one the sampler records in
    ``results['gesture_class_prob']`` (see
    :attr:`SampleMGWindow.gesture_class_prob`), read per window so that no
    config can make the two disagree; without it (a pipeline without
    ``SampleMGWindow``, or before its class counts are set) the training class
    frequencies, i.e. the distribution of a sampler that does not balance
    classes.

    **Augmentations.** Every augmentation is given as a pair
    ``(value at intensity 0, value at intensity 1)``, linearly interpolated at
    the window's intensity. A window at intensity 0 (e.g. a common, easy
    class with ``min_intensity=0``) is left unchanged; the default intensity-0 values are
    the identity too, so strength grows continuously from there. One random
    draw per window is applied to all its frames:

    - temporal (first): the window is re-timed by a monotone piecewise-linear
      map. ``slow_down`` is the largest fraction of the window cut away and
      stretched back to ``T`` frames (play speed ``1 - U(0, m)``);
      ``speed_warp`` is the largest local speed change, the first half playing
      at ``1 + d`` and the second at ``1 - d``, ``d ~ U(-m, m)``. Frames are
      taken by nearest neighbour from the decoded ones, ``frame_inds`` follow,
      and ``gt_segments`` go through the same map, so a frame is labelled with
      a gesture exactly when the source time it shows is inside it. A gesture
      the slow-down pushes entirely out of the window is removed with its label,
      as a window sampler does.
    - spatial: one affine warp per frame combining a random resized crop
      (kept area in ``[crop_area, 1]``, aspect ratio changed by a factor up to
      ``crop_aspect``), a translation up to ``translate`` of the frame side, a
      rotation up to ``rotate_deg`` degrees and a horizontal flip with
      probability ``flip_prob`` (off by default: left and right can matter for
      micro-gestures).
    - photometric (last, vectorised over the clip): brightness, contrast and
      saturation factors in ``1 +- m``, then Gaussian noise of std
      ``noise_std`` (0-255 units).

    **Determinism.** One seed per window is drawn from numpy's global RNG, which
    mmengine seeds per dataloader worker (``seed + rank * num_workers +
    worker_id``); all draws of the window then come from a local
    ``np.random.Generator``, so results only depend on the worker seed.

    **Shared state.** Rarity, class frequencies and difficulty live in ``torch`` tensors moved
    to shared memory in ``__init__``, i.e. in the main process before any
    dataloader worker exists. Forked workers (the default on Linux) inherit the
    same pages; with the ``spawn``/``forkserver`` start methods the DataLoader
    pickles the dataset with torch's multiprocessing reductions, which pass the
    shared storage by handle. Either way an in-place write in the main process
    (:meth:`set_difficulty`, :meth:`set_class_counts`) is seen by running and
    persistent workers on their next sample, with no file polling. The sharing
    is lost if the transform is deep-copied (a deep copy of a shared tensor is
    private) or re-built inside a worker; ``ASBAHook`` checks for the first
    case before training and stops with an error. Each
    value is written atomically, so a worker reading during an update may see
    some classes updated and others not yet, never a torn number.

    Required keys: ``imgs``, ``gt_segments``, ``gt_labels``, ``frame_interval``.

    Optional keys: ``gesture_class_prob`` (float ``(K,)``, set by
    ``SampleMGWindow``: the class distribution of background windows).

    Modified keys: ``imgs``, ``gt_segments``, ``gt_labels``, ``frame_inds`` (if
    present with one index per frame).

    Added keys: ``asba_intensity`` (float, the window's intensity).

    Args:
        num_classes (int): Number of classes K; fixes the shared state's size
            before workers start.
        enabled (bool): If False the transform returns its input unchanged.
            Defaults to True.
        min_intensity (float): Intensity of a common, easy class.
            Defaults to 0.0.
        max_intensity (float): Intensity of the rarest, hardest class.
            Defaults to 1.0.
        rarity_weight (float): Weight of rarity against difficulty in [0, 1].
            Defaults to 0.5.
        initial_difficulty (float): Difficulty of every class before the first
            update, in [0, 1]. Defaults to 0.5.
        beta (float, optional): Effective-number beta in [0, 1); None uses
            ``(N - 1) / N``. Defaults to None.
        rarity_scale (str): ``'median'`` (rarity against the median class, an
            absolute scale) or ``'minmax'`` (the former rescaling between the
            most and least common class, for the ablation). Defaults to
            'median'.
        inverse (bool): Reverse the direction, for the ablation: a common, easy
            class gets ``max_intensity`` and the rarest, hardest one
            ``min_intensity`` (stronger augmentation on the frequent classes, as
            CUDA, Ahn et al., ICLR 2023, reports helps). Defaults to False.
        crop_area (tuple[float, float]): Smallest kept area fraction of the
            random resized crop, in (0, 1]. Defaults to (1.0, 0.6).
        crop_aspect (tuple[float, float]): Largest aspect-ratio change factor
            of the crop, >= 1. Defaults to (1.0, 1.25).
        translate (tuple[float, float]): Largest shift as a fraction of the
            frame side, in [0, 0.5]. Defaults to (0.0, 0.1).
        rotate_deg (tuple[float, float]): Largest rotation in degrees, in
            [0, 180]. Defaults to (0.0, 10.0).
        flip_prob (tuple[float, float]): Horizontal flip probability, in [0, 1].
            Defaults to (0.0, 0.0).
        brightness (tuple[float, float]): Largest relative brightness change,
            in [0, 1]. Defaults to (0.0, 0.3).
        contrast (tuple[float, float]): Largest relative contrast change, in
            [0, 1]. Defaults to (0.0, 0.3).
        saturation (tuple[float, float]): Largest relative saturation change,
            in [0, 1]. Defaults to (0.0, 0.3).
        noise_std (tuple[float, float]): Gaussian noise std in 0-255 pixel
            units, in [0, 64]. Defaults to (0.0, 5.0).
        slow_down (tuple[float, float]): Largest fraction of the window cut
            away by the slow-down, in [0, 0.9]. Defaults to (0.0, 0.2).
        speed_warp (tuple[float, float]): Largest local speed change, in
            [0, 0.9]. Defaults to (0.0, 0.3).
        border_mode (str): How warped frames are filled outside the source:
            'reflect', 'replicate' or 'constant' (black). Defaults to 'reflect'.
    """

    def __init__(
        self,
        num_classes: int,
        enabled: bool = True,
        min_intensity: float = 0.0,
        max_intensity: float = 1.0,
        rarity_weight: float = 0.5,
        initial_difficulty: float = 0.5,
        beta: float | None = None,
        rarity_scale: str = 'median',
        inverse: bool = False,
        crop_area: Sequence[float] = (1.0, 0.6),
        crop_aspect: Sequence[float] = (1.0, 1.25),
        translate: Sequence[float] = (0.0, 0.1),
        rotate_deg: Sequence[float] = (0.0, 10.0),
        flip_prob: Sequence[float] = (0.0, 0.0),
        brightness: Sequence[float] = (0.0, 0.3),
        contrast: Sequence[float] = (0.0, 0.3),
        saturation: Sequence[float] = (0.0, 0.3),
        noise_std: Sequence[float] = (0.0, 5.0),
        slow_down: Sequence[float] = (0.0, 0.2),
        speed_warp: Sequence[float] = (0.0, 0.3),
        border_mode: str = 'reflect',
    ) -> None:
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
            raise ValueError(f'num_classes must be a positive int, got {num_classes!r}')
        if not 0.0 <= min_intensity <= max_intensity <= 1.0:
            raise ValueError(
                'need 0 <= min_intensity <= max_intensity <= 1, got '
                f'min_intensity={min_intensity}, max_intensity={max_intensity}'
            )
        if not 0.0 <= rarity_weight <= 1.0:
            raise ValueError(f'rarity_weight must be in [0, 1], got {rarity_weight}')
        if not 0.0 <= initial_difficulty <= 1.0:
            raise ValueError(f'initial_difficulty must be in [0, 1], got {initial_difficulty}')
        if beta is not None and not 0.0 <= beta < 1.0:
            raise ValueError(f'beta must be in [0, 1) or None, got {beta}')
        if rarity_scale not in RARITY_SCALES:
            raise ValueError(f'rarity_scale must be one of {RARITY_SCALES}, got {rarity_scale!r}')
        if border_mode not in _BORDER_MODES:
            raise ValueError(
                f'border_mode must be one of {sorted(_BORDER_MODES)}, got {border_mode!r}'
            )
        self.num_classes = num_classes
        self.enabled = bool(enabled)
        self.min_intensity = float(min_intensity)
        self.max_intensity = float(max_intensity)
        self.rarity_weight = float(rarity_weight)
        self.inverse = bool(inverse)
        self.beta = beta
        self.rarity_scale = rarity_scale
        self.border_mode = border_mode
        self.crop_area = _check_range('crop_area', crop_area, 1e-3, 1.0)
        self.crop_aspect = _check_range('crop_aspect', crop_aspect, 1.0, 10.0)
        self.translate = _check_range('translate', translate, 0.0, 0.5)
        self.rotate_deg = _check_range('rotate_deg', rotate_deg, 0.0, 180.0)
        self.flip_prob = _check_range('flip_prob', flip_prob, 0.0, 1.0)
        self.brightness = _check_range('brightness', brightness, 0.0, 1.0)
        self.contrast = _check_range('contrast', contrast, 0.0, 1.0)
        self.saturation = _check_range('saturation', saturation, 0.0, 1.0)
        self.noise_std = _check_range('noise_std', noise_std, 0.0, 64.0)
        self.slow_down = _check_range('slow_down', slow_down, 0.0, 0.9)
        self.speed_warp = _check_range('speed_warp', speed_warp, 0.0, 0.9)
        # Shared before any worker is forked/spawned: see the class docstring.
        # Rarity stays NaN until the dataset provides its class counts.
        self._rarity = torch.full((num_classes,), float('nan'), dtype=torch.float64)
        self._rarity.share_memory_()
        # Training class frequencies: background windows draw their class from
        # them when the window sampler does not say how it picks classes.
        self._class_freq = torch.full((num_classes,), float('nan'), dtype=torch.float64)
        self._class_freq.share_memory_()
        self._difficulty = torch.full(
            (num_classes,), float(initial_difficulty), dtype=torch.float64
        )
        self._difficulty.share_memory_()

    # ------------------------------------------------------------------ state
    def set_class_counts(self, counts: Sequence[int]) -> None:
        """Set the rarity from the training split's per-class instance counts.

        Args:
            counts (Sequence[int]): Instances per class, length K.
        """
        if len(counts) != self.num_classes:
            raise ValueError(
                f'ASBATransform has num_classes={self.num_classes} but got '
                f'{len(counts)} class counts: {list(counts)}'
            )
        rarity = class_rarity(counts, self.beta, self.rarity_scale)
        freq = np.maximum(np.asarray(counts, dtype=np.float64), 0.0)
        self._class_freq.copy_(torch.from_numpy(freq / freq.sum()))
        self._rarity.copy_(torch.from_numpy(rarity))

    @property
    def has_class_counts(self) -> bool:
        """Whether :meth:`set_class_counts` has been called."""
        return not bool(torch.isnan(self._rarity).any())

    @property
    def rarity(self) -> np.ndarray:
        """Per-class rarity in [0, 1], shape ``(K,)``; NaN before the counts."""
        return self._rarity.numpy().copy()

    @property
    def difficulty(self) -> np.ndarray:
        """Per-class difficulty in [0, 1], shape ``(K,)``."""
        return self._difficulty.numpy().copy()

    def set_difficulty(self, difficulty: Sequence[float] | np.ndarray | torch.Tensor) -> None:
        """Overwrite the shared per-class difficulty in place.

        Args:
            difficulty (Sequence[float] | np.ndarray | torch.Tensor): Values in
                [0, 1], shape ``(K,)``.
        """
        values = torch.as_tensor(np.asarray(difficulty, dtype=np.float64))
        if values.shape != (self.num_classes,):
            raise ValueError(
                f'difficulty must have shape ({self.num_classes},), got {tuple(values.shape)}'
            )
        if not bool(((values >= 0) & (values <= 1)).all()):
            raise ValueError(f'difficulty must lie in [0, 1], got {values.tolist()}')
        self._difficulty.copy_(values)

    def class_intensity(self) -> np.ndarray:
        """Current intensity of each class, shape ``(K,)``."""
        if not self.has_class_counts:
            raise RuntimeError(
                'ASBATransform has no class counts yet: the training dataset must call '
                'set_class_counts(counts) after loading its annotations (or use ASBAHook, '
                'which passes dataset.class_counts).'
            )
        return asba_intensity(
            self._rarity.numpy(),
            self._difficulty.numpy(),
            self.rarity_weight,
            # Inverted: the same mix, read from the other end of the range.
            self.max_intensity if self.inverse else self.min_intensity,
            self.min_intensity if self.inverse else self.max_intensity,
        )

    @property
    def shared_tensors(self) -> dict[str, torch.Tensor]:
        """The state the dataloader workers read: must live in shared memory."""
        return dict(rarity=self._rarity, class_freq=self._class_freq, difficulty=self._difficulty)

    def window_intensity(
        self,
        labels: np.ndarray,
        rng: np.random.Generator,
        class_prob: np.ndarray | None = None,
    ) -> float:
        """Intensity of a window: its most demanding gesture's, or, for a
        background window, that of a class drawn with ``class_prob``.

        Args:
            labels (np.ndarray): The window's gesture labels, shape ``(N,)``.
            rng (np.random.Generator): The window's generator (background draw).
            class_prob (np.ndarray, optional): Distribution of the class of a
                gesture window, shape ``(K,)`` (``results['gesture_class_prob']``);
                None uses the training class frequencies. Defaults to None.

        Returns:
            float: Intensity in ``[min_intensity, max_intensity]``.
        """
        intensity = self.class_intensity()
        if labels.size == 0:
            prob = self._class_freq.numpy() if class_prob is None else class_prob
            return float(intensity[rng.choice(self.num_classes, p=prob)])
        return float(intensity[labels].max())

    # -------------------------------------------------------------- transform
    def transform(self, results: dict) -> dict:
        """Augment one window at its ASBA intensity.

        Args:
            results (dict): Pipeline results with the required keys.

        Returns:
            dict: The same dict, augmented.
        """
        if not self.enabled:
            return results
        labels = self._check_labels(results)
        class_prob = self._check_class_prob(results)
        rng = np.random.default_rng(np.random.randint(0, 2**31 - 1))
        intensity = self.window_intensity(labels, rng, class_prob)
        results['asba_intensity'] = intensity
        if intensity <= 0.0:
            return results
        imgs = results.get('imgs')
        if not isinstance(imgs, list) or not imgs:
            raise TypeError(
                f'{self._where(results)}: ASBATransform expects imgs as a non-empty list of '
                'uint8 (H, W, 3) frames; put it after decoding and resizing.'
            )
        self._temporal(results, intensity, rng)
        self._spatial(results, intensity, rng)
        self._photometric(results, intensity, rng)
        return results

    @staticmethod
    def _where(results: dict) -> str:
        return (
            f'window of {results.get("video_id", results.get("filename", "?"))} '
            f'at frame {results.get("window_start_frame", "?")}'
        )

    def _check_labels(self, results: dict) -> np.ndarray:
        labels = np.asarray(results['gt_labels'])
        if labels.ndim != 1 or (labels.size and not np.issubdtype(labels.dtype, np.integer)):
            raise ValueError(
                f'{self._where(results)}: gt_labels must be a 1-D int array, '
                f'got dtype {labels.dtype} shape {labels.shape}'
            )
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(
                f'{self._where(results)}: gt_labels must be 0-based class indices in '
                f'[0, {self.num_classes}), got {labels.tolist()}'
            )
        return labels

    def _check_class_prob(self, results: dict) -> np.ndarray | None:
        prob = results.get('gesture_class_prob')
        if prob is None:
            return None
        prob = np.asarray(prob, dtype=np.float64)
        if (
            prob.shape != (self.num_classes,)
            or not np.isfinite(prob).all()
            or (prob < 0).any()
            or abs(prob.sum() - 1.0) > 1e-6
        ):
            raise ValueError(
                f"{self._where(results)}: gesture_class_prob (the window sampler's class "
                f'distribution, from its class counts) must be {self.num_classes} '
                f'probabilities summing to 1 for ASBATransform(num_classes='
                f'{self.num_classes}), got {prob.tolist()}'
            )
        return prob

    @staticmethod
    def _lerp(pair: tuple, intensity: float) -> float:
        return pair[0] + (pair[1] - pair[0]) * intensity

    def _temporal(self, results: dict, intensity: float, rng: np.random.Generator) -> None:
        slow = self._lerp(self.slow_down, intensity)
        warp = self._lerp(self.speed_warp, intensity)
        if slow == 0.0 and warp == 0.0:
            return
        imgs = results['imgs']
        num_frames = len(imgs)
        # Clip-frame time: frame i covers [i, i + 1); the window is [0, T].
        span = num_frames * (1.0 - rng.uniform(0.0, slow))
        offset = rng.uniform(0.0, num_frames - span)
        delta = rng.uniform(-warp, warp)
        out_knots = np.array([0.0, num_frames / 2, num_frames])
        src_knots = offset + (span / num_frames) * np.array(
            [0.0, num_frames / 2 * (1.0 + delta), num_frames]
        )
        # Each output frame shows the source frame under its centre's time.
        src_time = np.interp(np.arange(num_frames) + 0.5, out_knots, src_knots)
        src_idx = np.clip(np.floor(src_time).astype(np.int64), 0, num_frames - 1)
        results['imgs'] = [imgs[i] for i in src_idx]
        frame_inds = results.get('frame_inds')
        if frame_inds is not None and len(frame_inds) == num_frames:
            results['frame_inds'] = np.asarray(frame_inds)[src_idx]

        frame_interval = float(results['frame_interval'])
        segments = np.asarray(results['gt_segments'], dtype=np.float32).reshape(-1, 2)
        # The inverse map sends a source time to its output time; np.interp
        # clamps times outside the kept span to the window bounds.
        mapped = np.interp(segments / frame_interval, src_knots, out_knots) * frame_interval
        mapped = mapped.astype(np.float32).reshape(-1, 2)
        keep = mapped[:, 1] > mapped[:, 0]
        results['gt_segments'] = mapped[keep]
        results['gt_labels'] = np.asarray(results['gt_labels'])[keep]

    def _spatial(self, results: dict, intensity: float, rng: np.random.Generator) -> None:
        min_area = self._lerp(self.crop_area, intensity)
        max_aspect = self._lerp(self.crop_aspect, intensity)
        shift = self._lerp(self.translate, intensity)
        max_angle = self._lerp(self.rotate_deg, intensity)
        flip_prob = self._lerp(self.flip_prob, intensity)
        if (
            min_area == 1.0
            and max_aspect == 1.0
            and shift == 0
            and max_angle == 0
            and not flip_prob
        ):
            return
        height, width = results['imgs'][0].shape[:2]
        area = rng.uniform(min_area, 1.0)
        aspect = np.exp(rng.uniform(-np.log(max_aspect), np.log(max_aspect)))
        crop_w = min(width * np.sqrt(area * aspect), width)
        crop_h = min(height * np.sqrt(area / aspect), height)
        center_x = rng.uniform(crop_w / 2, width - crop_w / 2)
        center_y = rng.uniform(crop_h / 2, height - crop_h / 2)
        center_x += rng.uniform(-shift, shift) * width
        center_y += rng.uniform(-shift, shift) * height
        angle = np.deg2rad(rng.uniform(-max_angle, max_angle))
        flip = -1.0 if rng.uniform() < flip_prob else 1.0
        # Map output pixel -> source pixel (pixel centres at integer indices).
        cos, sin = np.cos(angle), np.sin(angle)
        linear = np.array([[cos, -sin], [sin, cos]]) @ np.diag(
            [flip * crop_w / width, crop_h / height]
        )
        out_center = np.array([(width - 1) / 2, (height - 1) / 2])
        src_center = np.array([center_x, center_y]) - 0.5
        matrix = np.hstack([linear, (src_center - linear @ out_center)[:, None]])
        border = _BORDER_MODES[self.border_mode]
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        results['imgs'] = [
            cv2.warpAffine(img, matrix, (width, height), flags=flags, borderMode=border)
            for img in results['imgs']
        ]

    def _photometric(self, results: dict, intensity: float, rng: np.random.Generator) -> None:
        brightness = self._lerp(self.brightness, intensity)
        contrast = self._lerp(self.contrast, intensity)
        saturation = self._lerp(self.saturation, intensity)
        noise_std = self._lerp(self.noise_std, intensity)
        if brightness == 0 and contrast == 0 and saturation == 0 and noise_std == 0:
            return
        brightness_factor = 1.0 + rng.uniform(-brightness, brightness)
        contrast_factor = 1.0 + rng.uniform(-contrast, contrast)
        saturation_factor = 1.0 + rng.uniform(-saturation, saturation)
        clip = np.stack(results['imgs']).astype(np.float32)  # (T, H, W, 3)
        luma = clip[..., 0] * _LUMA_RGB[0]
        luma += clip[..., 1] * _LUMA_RGB[1]
        luma += clip[..., 2] * _LUMA_RGB[2]
        # Brightness (x * b), contrast around the clip's mean luma m
        # ((x - m) * c + m) and saturation around each pixel's luma
        # ((x - l) * s + l) compose into one affine map of x and its luma:
        # x * (s c b) + l * ((1 - s) c b) + (1 - c) b m. One pass instead of three.
        gain_rgb = saturation_factor * contrast_factor * brightness_factor
        gain_luma = (1.0 - saturation_factor) * contrast_factor * brightness_factor
        bias = (1.0 - contrast_factor) * brightness_factor * float(luma.mean())
        clip *= gain_rgb
        luma *= gain_luma
        luma += bias
        clip += luma[..., None]
        if noise_std > 0:
            # OpenCV's Gaussian sampler is about 8x faster than numpy's; seeding
            # it from the window's generator keeps the result deterministic.
            cv2.setRNGSeed(int(rng.integers(0, 2**31 - 1)))
            noise = np.empty((clip.shape[0] * clip.shape[1], clip.shape[2] * 3), np.float32)
            cv2.randn(noise, 0.0, noise_std)
            clip += noise.reshape(clip.shape)
        np.clip(clip, 0, 255, out=clip)
        results['imgs'] = list(np.rint(clip, out=clip).astype(np.uint8))

    def __repr__(self) -> str:
        return (
            f'{self.__class__.__name__}(num_classes={self.num_classes}, '
            f'enabled={self.enabled}, min_intensity={self.min_intensity}, '
            f'max_intensity={self.max_intensity}, rarity_weight={self.rarity_weight}, '
            f'rarity_scale={self.rarity_scale!r}, '
            f'crop_area={self.crop_area}, crop_aspect={self.crop_aspect}, '
            f'translate={self.translate}, rotate_deg={self.rotate_deg}, '
            f'flip_prob={self.flip_prob}, brightness={self.brightness}, '
            f'contrast={self.contrast}, saturation={self.saturation}, '
            f'noise_std={self.noise_std}, slow_down={self.slow_down}, '
            f'speed_warp={self.speed_warp}, border_mode={self.border_mode!r})'
        )
