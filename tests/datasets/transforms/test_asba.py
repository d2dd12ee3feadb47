import glob
import os.path as osp

import numpy as np
import pytest
from mmaction.registry import TRANSFORMS
from mmengine.config import Config

from mmstda.datasets.transforms import ASBATransform, SampleMGWindow, asba_intensity
from mmstda.utils import class_balanced_weights

# Every augmentation at zero strength: tests switch on only what they check.
NO_AUG = dict(
    crop_area=(1.0, 1.0),
    crop_aspect=(1.0, 1.0),
    translate=(0.0, 0.0),
    rotate_deg=(0.0, 0.0),
    flip_prob=(0.0, 0.0),
    brightness=(0.0, 0.0),
    contrast=(0.0, 0.0),
    saturation=(0.0, 0.0),
    noise_std=(0.0, 0.0),
    slow_down=(0.0, 0.0),
    speed_warp=(0.0, 0.0),
)


def make_window(num_frames=8, size=16, labels=(0,), segments=((2.0, 10.0),), interval=2, seed=0):
    rng = np.random.default_rng(seed)
    return dict(
        video_id='Sample0001',
        window_start_frame=100,
        imgs=[rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(num_frames)],
        gt_segments=np.array(segments, dtype=np.float32).reshape(-1, 2),
        gt_labels=np.array(labels, dtype=np.int64),
        frame_interval=interval,
        frame_inds=100 + np.arange(num_frames) * interval,
    )


def copy_window(results):
    return {k: (list(v) if isinstance(v, list) else v) for k, v in results.items()}


# ---------------------------------------------------------------- intensity
def test_intensity_is_monotone_and_continuous_in_rarity_and_difficulty():
    grid = np.linspace(0.0, 1.0, 101)
    rarity, difficulty = np.meshgrid(grid, grid, indexing='ij')
    values = asba_intensity(rarity, difficulty, rarity_weight=0.3, min_intensity=0.1)
    # Rarer (axis 0) or harder (axis 1) never means weaker.
    assert (np.diff(values, axis=0) >= 0).all()
    assert (np.diff(values, axis=1) >= 0).all()
    # Continuous: a 0.01 step moves it by at most 0.01 * (max - min), no jump anywhere.
    assert np.abs(np.diff(values, axis=0)).max() <= 0.01 * 0.9 + 1e-12
    assert np.abs(np.diff(values, axis=1)).max() <= 0.01 * 0.9 + 1e-12
    # Strictly increasing in both when both weights are non-zero: soft, no plateau.
    assert (np.diff(values, axis=0) > 0).all() and (np.diff(values, axis=1) > 0).all()


def test_intensity_reaches_exactly_its_bounds():
    assert asba_intensity(0.0, 0.0, 0.5, 0.2, 0.8) == pytest.approx(0.2)
    assert asba_intensity(1.0, 1.0, 0.5, 0.2, 0.8) == pytest.approx(0.8)
    assert asba_intensity(1.0, 0.0, 0.5, 0.2, 0.8) == pytest.approx(0.5)
    grid = np.linspace(0, 1, 11)
    values = asba_intensity(grid[:, None], grid[None, :], 0.5, 0.2, 0.8)
    assert values.min() == pytest.approx(0.2) and values.max() == pytest.approx(0.8)


def effective_number(count, total):
    beta = (total - 1) / total
    return (1 - beta**count) / (1 - beta)


def test_rarest_class_gets_most_intensity_and_difficulty_is_neutral_at_start():
    asba = ASBATransform(num_classes=3, initial_difficulty=0.5)
    asba.set_class_counts([724, 41, 9])
    # Same difficulty for everyone before the first update.
    np.testing.assert_allclose(asba.difficulty, [0.5, 0.5, 0.5])
    # Rarity against the median class (41): E_41 / (E_41 + E_n).
    e = [effective_number(n, 774) for n in (724, 41, 9)]
    np.testing.assert_allclose(asba.rarity, [e[1] / (e[1] + x) for x in e])
    assert asba.rarity[1] == pytest.approx(0.5)
    intensity = asba.class_intensity()
    np.testing.assert_allclose(intensity, 0.5 * asba.rarity + 0.5 * 0.5)
    assert intensity[0] < intensity[1] < intensity[2]


def test_rarity_has_an_absolute_scale_not_set_by_the_extreme_classes():
    # Two nearly equal classes are nearly equally rare (min/max rescaling: 0 and 1).
    nearly_equal = ASBATransform(num_classes=2)
    nearly_equal.set_class_counts([100, 99])
    np.testing.assert_allclose(nearly_equal.rarity, [0.5, 0.5], atol=0.01)
    # A class twice as common as another keeps its rarity when a very rare class
    # joins; only the reference (the median) moves, and not to the extremes.
    three = ASBATransform(num_classes=3)
    three.set_class_counts([1000, 500, 20])
    e = [effective_number(n, 1520) for n in (1000, 500, 20)]
    np.testing.assert_allclose(three.rarity, [e[1] / (e[1] + x) for x in e])
    assert 0.3 < three.rarity[0] < 0.4 and three.rarity[2] > 0.9
    # The former min/max rule stays available for the ablation.
    minmax = ASBATransform(num_classes=3, rarity_scale='minmax')
    minmax.set_class_counts([1000, 500, 20])
    assert minmax.rarity[0] == 0.0 and minmax.rarity[2] == 1.0
    with pytest.raises(ValueError, match="rarity_scale must be one of .* got 'max'"):
        ASBATransform(num_classes=3, rarity_scale='max')


def test_window_takes_its_most_demanding_gesture():
    asba = ASBATransform(num_classes=3, min_intensity=0.1, max_intensity=0.9, **NO_AUG)
    asba.set_class_counts([500, 50, 5])
    asba.set_difficulty([0.0, 1.0, 0.0])
    intensity = asba.class_intensity()
    rng = np.random.default_rng(0)
    assert asba.window_intensity(np.array([0]), rng) == pytest.approx(intensity[0])
    assert asba.window_intensity(np.array([0, 2]), rng) == pytest.approx(intensity[2])
    assert asba.window_intensity(np.array([2, 1, 0]), rng) == pytest.approx(intensity.max())


def test_background_window_takes_a_class_intensity_drawn_with_the_class_frequencies():
    asba = ASBATransform(num_classes=3, min_intensity=0.1, max_intensity=0.9, **NO_AUG)
    asba.set_class_counts([60, 30, 10])
    asba.set_difficulty([0.0, 1.0, 0.5])
    intensity = asba.class_intensity()
    draws = []
    for seed in range(600):
        np.random.seed(seed)
        draws.append(asba(make_window(labels=(), segments=()))['asba_intensity'])
    draws = np.array(draws)
    # Never a floor of its own: each draw is some class's intensity ...
    assert np.isin(np.round(draws, 9), np.round(intensity, 9)).all()
    # ... with the classes' training frequencies.
    frequencies = [(np.abs(draws - v) < 1e-9).mean() for v in intensity]
    np.testing.assert_allclose(frequencies, [0.6, 0.3, 0.1], atol=0.06)


def test_background_and_gesture_windows_are_indistinguishable_when_classes_agree():
    # Every family on, all classes in the same state: the augmentation must not
    # tell whether a gesture is present (before, background was never augmented).
    asba = ASBATransform(num_classes=3)
    asba.set_class_counts([20, 20, 20])
    asba.set_difficulty([0.7, 0.7, 0.7])
    flat = [np.full((16, 16, 3), 128, np.uint8) for _ in range(8)]

    def pixel_stds(labels, segments):
        stds, means = [], []
        for seed in range(150):
            np.random.seed(seed)
            window = dict(make_window(labels=labels, segments=segments), imgs=list(flat))
            clip = np.stack(asba(window)['imgs']).astype(np.float64)
            stds.append(clip.std())
            means.append(clip.mean())
        return np.array(stds), np.array(means)

    background_std, background_mean = pixel_stds((), ())
    gesture_std, gesture_mean = pixel_stds((1,), ((2.0, 10.0),))
    assert background_std.mean() > 1.0  # background windows are augmented too
    # Same distribution: means within 3 standard errors, same spread.
    for a, b in ((background_std, gesture_std), (background_mean, gesture_mean)):
        standard_error = np.sqrt(a.var() / a.size + b.var() / b.size)
        assert abs(a.mean() - b.mean()) < 3 * standard_error
        assert 0.7 < a.std() / b.std() < 1.4


# ----------------------------------------------------------------- identity
def test_disabled_transform_is_the_identity():
    asba = ASBATransform(num_classes=2, enabled=False, min_intensity=1.0, max_intensity=1.0)
    asba.set_class_counts([10, 1])
    results = make_window(labels=(1,))
    before = copy_window(results)
    out = asba(results)
    assert set(out) == set(before)
    for key, value in before.items():
        if key == 'imgs':
            assert all((a == b).all() for a, b in zip(out['imgs'], value))
        else:
            np.testing.assert_array_equal(out[key], value)


# ------------------------------------------------------------------ strength
def mean_over_seeds(measure, asba, make, seeds=range(40)):
    values = []
    for seed in seeds:
        np.random.seed(seed)
        values.append(measure(asba(make())))
    return float(np.mean(values))


def at_intensity(intensity, **ranges):
    asba = ASBATransform(
        num_classes=2, min_intensity=intensity, max_intensity=intensity, **{**NO_AUG, **ranges}
    )
    asba.set_class_counts([10, 10])
    return asba


INTENSITIES = (0.25, 0.5, 1.0)


def test_higher_intensity_changes_pixels_more_photometric():
    window = make_window(num_frames=4, size=16, labels=(0,))

    def pixel_change(out):
        return np.abs(np.stack(out['imgs']).astype(np.float64) - np.stack(window['imgs'])).mean()

    ranges = dict(brightness=(0.0, 0.3), contrast=(0.0, 0.3), saturation=(0.0, 0.3))
    for family in (ranges, dict(noise_std=(0.0, 8.0))):
        change = [
            mean_over_seeds(pixel_change, at_intensity(i, **family), lambda: copy_window(window))
            for i in INTENSITIES
        ]
        assert change[0] > 0.5 and change[0] < change[1] < change[2], (family, change)


def test_higher_intensity_shifts_the_frame_further_spatial():
    dot = np.zeros((32, 32, 3), np.uint8)
    dot[15:17, 15:17] = 255

    def centroid_shift(out):
        weights = out['imgs'][0][..., 0].astype(np.float64)
        rows, cols = np.indices(weights.shape)
        centre = np.array([(rows * weights).sum(), (cols * weights).sum()]) / weights.sum()
        return float(np.hypot(*(centre - 15.5)))

    def make():
        return dict(make_window(num_frames=2, size=32, labels=(0,)), imgs=[dot, dot])

    for family in (dict(translate=(0.0, 0.2)), dict(rotate_deg=(0.0, 30.0), crop_area=(1.0, 0.5))):
        asba_kwargs = dict(border_mode='constant', **family)
        shift = [
            mean_over_seeds(centroid_shift, at_intensity(i, **asba_kwargs), make)
            for i in INTENSITIES
        ]
        assert shift[0] > 0.3 and shift[0] < shift[1] < shift[2], (family, shift)


def test_higher_intensity_warps_time_further_temporal():
    def retiming(out):
        shown = np.array([img[0, 0, 0] for img in out['imgs']], dtype=np.float64)
        return np.abs(shown - np.arange(len(shown))).mean()

    def make():
        return dict(make_window(num_frames=32, labels=(0,)), imgs=index_frames(32))

    for family in (dict(slow_down=(0.0, 0.5)), dict(speed_warp=(0.0, 0.6))):
        warp = [mean_over_seeds(retiming, at_intensity(i, **family), make) for i in INTENSITIES]
        assert warp[0] > 0.3 and warp[0] < warp[1] < warp[2], (family, warp)


def test_intensity_zero_is_the_identity_even_with_strong_ranges():
    strong = dict(NO_AUG, rotate_deg=(0.0, 45.0), noise_std=(0.0, 30.0), slow_down=(0.0, 0.5))
    asba = ASBATransform(num_classes=2, min_intensity=0.0, max_intensity=0.0, **strong)
    asba.set_class_counts([10, 1])
    results = make_window(labels=(1,))
    before = copy_window(results)
    out = asba(results)
    assert out['asba_intensity'] == 0.0
    assert all((a == b).all() for a, b in zip(out['imgs'], before['imgs']))
    np.testing.assert_array_equal(out['gt_segments'], before['gt_segments'])
    np.testing.assert_array_equal(out['frame_inds'], before['frame_inds'])


# ------------------------------------------------------------------ spatial
def test_spatial_and_photometric_keep_shape_dtype_and_labels():
    asba = ASBATransform(num_classes=2, min_intensity=1.0, max_intensity=1.0, slow_down=(0, 0),
                         speed_warp=(0, 0))  # fmt: skip
    asba.set_class_counts([10, 1])
    results = make_window(num_frames=4, size=24, labels=(1,))
    before = copy_window(results)
    np.random.seed(0)
    out = asba(results)
    assert len(out['imgs']) == 4
    assert all(img.shape == (24, 24, 3) and img.dtype == np.uint8 for img in out['imgs'])
    assert any((a != b).any() for a, b in zip(out['imgs'], before['imgs']))
    np.testing.assert_array_equal(out['gt_segments'], before['gt_segments'])
    np.testing.assert_array_equal(out['gt_labels'], before['gt_labels'])


def test_horizontal_flip_is_off_by_default_and_exact_when_enabled():
    img = np.zeros((6, 8, 3), np.uint8)
    img[:, :2] = 255  # bright left edge
    results = dict(make_window(num_frames=2, labels=(1,)), imgs=[img, img])
    only_rotation = dict(NO_AUG, rotate_deg=(0.0, 0.0))
    default = ASBATransform(num_classes=2, min_intensity=1.0, **only_rotation)
    default.set_class_counts([10, 1])
    for seed in range(20):
        np.random.seed(seed)
        assert (default(copy_window(results))['imgs'][0] == img).all()
    flip = ASBATransform(num_classes=2, min_intensity=1.0, **dict(NO_AUG, flip_prob=(1.0, 1.0)))
    flip.set_class_counts([10, 1])
    out = flip(copy_window(results))
    assert all((frame == img[:, ::-1]).all() for frame in out['imgs'])


# ----------------------------------------------------------------- temporal
def index_frames(num_frames):
    """Frames whose pixels hold their own clip index."""
    return [np.full((4, 4, 3), i, np.uint8) for i in range(num_frames)]


@pytest.mark.parametrize('seed', range(25))
def test_temporal_augmentation_keeps_segments_in_window_and_consistent(seed):
    num_frames, interval = 32, 2
    window_native = num_frames * interval
    # Clip-frame boundaries in native frames: [2, 6), [10, 20), [25, 32) clip frames.
    segments = np.array([[4, 12], [20, 40], [50, 64]], np.float32)
    labels = np.array([0, 1, 2])
    asba = ASBATransform(
        num_classes=3,
        min_intensity=1.0,
        **dict(NO_AUG, slow_down=(0.0, 0.5), speed_warp=(0.0, 0.6)),
    )
    asba.set_class_counts([5, 5, 5])
    results = dict(
        make_window(num_frames=num_frames, interval=interval),
        imgs=index_frames(num_frames),
        gt_segments=segments.copy(),
        gt_labels=labels.copy(),
    )
    frame_inds = results['frame_inds'].copy()
    np.random.seed(seed)
    out = asba(results)

    src = np.array([img[0, 0, 0] for img in out['imgs']], dtype=np.int64)
    assert len(src) == num_frames and (np.diff(src) >= 0).all()  # time runs forward
    assert not (src == np.arange(num_frames)).all()  # it did re-time the window
    np.testing.assert_array_equal(out['frame_inds'], frame_inds[src])
    new_segments = out['gt_segments']
    assert new_segments.dtype == np.float32 and new_segments.shape == (len(out['gt_labels']), 2)
    assert (new_segments >= 0).all() and (new_segments <= window_native).all()
    assert (new_segments[:, 1] > new_segments[:, 0]).all()

    tol = 1e-3  # native frames; float32 rounding at exact boundaries
    for label, (start, end) in zip(labels, segments / interval):
        kept = np.flatnonzero(out['gt_labels'] == label)
        for j, k in enumerate(src):
            time_native = (j + 0.5) * interval  # where output frame j sits
            inside_src = start <= k and k + 1 <= end  # source frame fully inside the GT
            outside_src = k + 1 <= start or k >= end
            if kept.size == 0:
                assert not inside_src, f'frame {j} shows GT {label} but the GT was removed'
                continue
            new_start, new_end = new_segments[kept[0]]
            if inside_src:
                assert new_start - tol <= time_native <= new_end + tol
            if outside_src:
                assert time_native <= new_start + tol or time_native >= new_end - tol


def test_same_worker_seed_gives_same_result_and_another_seed_differs():
    asba = ASBATransform(num_classes=2, min_intensity=1.0)
    asba.set_class_counts([10, 1])
    outputs = []
    for seed in (7, 7, 8):
        np.random.seed(seed)
        outputs.append(asba(make_window(labels=(1,)))['imgs'])
    assert all((a == b).all() for a, b in zip(outputs[0], outputs[1]))
    assert any((a != b).any() for a, b in zip(outputs[0], outputs[2]))


# --------------------------------------------------------------- bad input
def test_config_builds_through_the_registry_and_bad_arguments_are_named():
    asba = TRANSFORMS.build(dict(type='ASBATransform', num_classes=4, rotate_deg=(0.0, 5.0)))
    assert isinstance(asba, ASBATransform) and asba.rotate_deg == (0.0, 5.0)
    with pytest.raises(TypeError, match='rotate_deg must be a pair'):
        ASBATransform(num_classes=4, rotate_deg=5.0)
    with pytest.raises(ValueError, match=r'crop_area values must lie in \[0.001, 1.0\]'):
        ASBATransform(num_classes=4, crop_area=(1.0, 1.5))
    with pytest.raises(ValueError, match='min_intensity <= max_intensity'):
        ASBATransform(num_classes=4, min_intensity=0.8, max_intensity=0.2)


def test_bad_counts_labels_and_missing_counts_raise_clear_errors():
    asba = ASBATransform(num_classes=3)
    with pytest.raises(RuntimeError, match='must call set_class_counts'):
        asba(make_window(labels=(1,)))
    with pytest.raises(ValueError, match='num_classes=3 but got 2 class counts'):
        asba.set_class_counts([4, 2])
    asba.set_class_counts([4, 2, 1])
    with pytest.raises(ValueError, match=r'Sample0001 at frame 100: gt_labels .* \[0, 3\)'):
        asba(make_window(labels=(3,)))
    with pytest.raises(ValueError, match='difficulty must lie in'):
        asba.set_difficulty([0.2, 1.5, 0.0])


# ------------------------------------------- background class vs the sampler
# SMG's training counts (MiGA split, 17 classes).
SMG_TRAIN_COUNTS = [724, 720, 249, 175, 167, 101, 63, 48, 41, 40, 39, 21, 19, 14, 11, 11, 9]


def pooled_smg_video():
    """One video holding all SMG training instances in shuffled order, each 20 frames
    long and 150 apart: a window (16 frames x 4 = 64) holds at most one, and a
    uniformly placed window finds every instance equally often."""
    labels = np.repeat(np.arange(17), SMG_TRAIN_COUNTS)
    np.random.default_rng(0).shuffle(labels)
    starts = 500.0 + 150.0 * np.arange(labels.size)
    return dict(
        video_id='pooled',
        total_frames=int(starts[-1]) + 500,
        window_frames=16,
        frame_interval=4,
        video_gt_segments=np.stack([starts, starts + 20.0], axis=1).astype(np.float32),
        video_gt_labels=labels,
    )


def sampled_window_intensities(num_windows, seed=0, **sampler_kwargs):
    """ASBA intensities of the training windows SampleMGWindow draws, split into
    gesture and background windows; both transforms get the counts as
    SMGDataset.full_init gives them."""
    sampler = SampleMGWindow(**sampler_kwargs)
    asba = ASBATransform(num_classes=17, **NO_AUG)
    for transform in (sampler, asba):
        transform.set_class_counts(SMG_TRAIN_COUNTS)
    video = pooled_smg_video()
    frames = [np.zeros((2, 2, 3), np.uint8)] * 16
    gesture, background = [], []
    np.random.seed(seed)
    for _ in range(num_windows):
        results = sampler(dict(video, window_start_frame=None))
        results = asba(dict(results, imgs=list(frames)))
        (gesture if results['gt_labels'].size else background).append(results['asba_intensity'])
    return np.array(gesture), np.array(background), asba


def assert_same_mean(gesture, background, num_se=4.0):
    standard_error = np.sqrt(gesture.var() / gesture.size + background.var() / background.size)
    print(
        f'gesture windows {gesture.size}: mean intensity {gesture.mean():.4f}; background '
        f'windows {background.size}: {background.mean():.4f} (standard error of the '
        f'difference {standard_error:.4f})'
    )
    assert abs(gesture.mean() - background.mean()) < num_se * standard_error


@pytest.mark.parametrize(
    'gesture_centred_ratio, background_ratio, gesture_mean',
    [
        (0.5, 0.5, 0.475),  # every gesture window centred: the class-balanced pick alone
        (0.5, 0.1, 0.411),  # SMG's configs: 4/9 of the gesture windows placed uniformly
    ],
)
def test_background_windows_are_augmented_like_class_balanced_gesture_windows(
    gesture_centred_ratio, background_ratio, gesture_mean
):
    # Drawn with the training frequencies, background windows averaged 0.330
    # against the gesture windows' 0.475 / 0.411 at neutral difficulty: the
    # augmentation strength told the model whether a gesture was present.
    num_windows = 24000 if background_ratio == 0.5 else 30000
    gesture, background, asba = sampled_window_intensities(
        num_windows,
        gesture_centred_ratio=gesture_centred_ratio,
        background_ratio=background_ratio,
        class_balanced=True,
    )
    counts = np.array(SMG_TRAIN_COUNTS)
    assert (asba.class_intensity() * counts).sum() / counts.sum() == pytest.approx(0.330, abs=1e-3)
    assert gesture.mean() == pytest.approx(gesture_mean, abs=0.005)
    assert_same_mean(gesture, background)


def test_without_class_balancing_background_windows_keep_the_training_frequencies():
    # The demo's sampler (class_balanced=False): the class of a background window
    # is still drawn with the training frequencies, draw for draw as before.
    sampler = SampleMGWindow(gesture_centred_ratio=0.5, background_ratio=0.1, class_balanced=False)
    asba = ASBATransform(num_classes=17, **NO_AUG)
    for transform in (sampler, asba):
        transform.set_class_counts(SMG_TRAIN_COUNTS)
    counts = np.array(SMG_TRAIN_COUNTS, dtype=np.float64)
    np.testing.assert_array_equal(sampler.gesture_class_prob, counts / counts.sum())
    background = make_window(labels=(), segments=())
    for seed in range(200):
        np.random.seed(seed)
        recorded = asba(dict(background, gesture_class_prob=sampler.gesture_class_prob))
        np.random.seed(seed)
        assert asba(dict(background))['asba_intensity'] == recorded['asba_intensity']
    gesture, background, _ = sampled_window_intensities(
        20000, gesture_centred_ratio=0.5, background_ratio=0.1, class_balanced=False
    )
    assert gesture.mean() == pytest.approx(0.330, abs=0.005)
    assert_same_mean(gesture, background)


def test_sampler_records_the_class_distribution_of_its_gesture_windows():
    counts = [30, 10, 0, 5]
    frequency = np.array(counts, dtype=np.float64) / 45
    weights = class_balanced_weights(counts)
    centred = frequency * weights / (frequency * weights).sum()
    sampler = SampleMGWindow(gesture_centred_ratio=0.5, background_ratio=0.1)
    video = dict(
        total_frames=1000,
        window_frames=8,
        frame_interval=1,
        video_gt_segments=np.array([[100.0, 120.0]], np.float32),
        video_gt_labels=np.array([1]),
        window_start_frame=None,
    )
    # No counts yet: nothing recorded, so ASBA draws with the training frequencies.
    assert 'gesture_class_prob' not in sampler(dict(video))
    sampler.set_class_counts(counts)
    prob = sampler(dict(video))['gesture_class_prob']
    # 0.5 of the windows centred with class-balanced picks, 0.4 placed uniformly.
    np.testing.assert_allclose(prob, (0.5 * centred + 0.4 * frequency) / 0.9)
    assert prob[2] == 0.0 and prob.sum() == pytest.approx(1.0)
    assert not prob.flags.writeable  # shared by every window: read-only
    # Only centred windows: the class-balanced pick; none centred: the frequencies.
    only_centred = SampleMGWindow(gesture_centred_ratio=0.9, background_ratio=0.1)
    only_centred.set_class_counts(counts)
    np.testing.assert_allclose(only_centred.gesture_class_prob, centred)
    uniform = SampleMGWindow(gesture_centred_ratio=0.0, background_ratio=0.1)
    uniform.set_class_counts(counts)
    np.testing.assert_allclose(uniform.gesture_class_prob, frequency)
    # ASBA built for another number of classes refuses the distribution by name.
    asba = ASBATransform(num_classes=3)
    asba.set_class_counts([4, 2, 1])
    with pytest.raises(ValueError, match=r'gesture_class_prob .* must be 3 probabilities'):
        asba(dict(make_window(labels=(), segments=()), gesture_class_prob=prob))


def _train_pipelines(cfg):
    """Every training pipeline of a config, through dataset wrappers."""

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get('pipeline'), list):
                yield node['pipeline']
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    yield from walk(cfg.get('train_dataloader', {}).get('dataset', {}))


def test_every_config_with_asba_puts_the_window_sampler_before_it():
    # ASBA learns the sampler's class distribution from results, so every config
    # gets the class-balanced background draw as long as SampleMGWindow runs first.
    root = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    names = sorted(
        osp.relpath(path, root)
        for path in glob.glob(osp.join(root, 'configs', '**', '*.py'), recursive=True)
        if '_base_' not in path
    )
    checked = {}
    for name in names:
        cfg = Config.fromfile(osp.join(root, name))
        for pipeline in _train_pipelines(cfg.to_dict()):
            kinds = [str(step.get('type')).split('.')[-1] for step in pipeline]
            if 'ASBATransform' not in kinds:
                continue
            assert 'SampleMGWindow' in kinds[: kinds.index('ASBATransform')], name
            sampler_cfg = pipeline[kinds.index('SampleMGWindow')]
            sampler = TRANSFORMS.build(sampler_cfg)
            asba = TRANSFORMS.build(pipeline[kinds.index('ASBATransform')])
            for transform in (sampler, asba):
                transform.set_class_counts(SMG_TRAIN_COUNTS)
            background_mean = float(asba.class_intensity() @ sampler.gesture_class_prob)
            checked[name] = (sampler.class_balanced, round(background_mean, 3))
    print(checked)
    balanced = [name for name, (is_balanced, _) in checked.items() if is_balanced]
    assert 'configs/stda_smg.py' in balanced and 'configs/stda_demo.py' in checked
    # Class-balanced configs (SMG's 0.5 / 0.1 ratios): background windows at the
    # gesture windows' 0.411, no longer at the training frequencies' 0.330.
    for name in balanced:
        assert checked[name][1] == pytest.approx(0.411, abs=0.002), name


def test_inverse_asba_augments_the_frequent_easy_classes_hardest():
    # The ablation's inverse direction (CUDA, ICLR 2023): the ordering flips, the
    # range stays [min_intensity, max_intensity].
    counts = [400, 100, 10]
    forward = ASBATransform(num_classes=3, min_intensity=0.1, max_intensity=0.9)
    inverse = ASBATransform(num_classes=3, min_intensity=0.1, max_intensity=0.9, inverse=True)
    for transform in (forward, inverse):
        transform.set_class_counts(counts)
        transform.set_difficulty([0.0, 0.5, 1.0])
    ahead, back = forward.class_intensity(), inverse.class_intensity()
    assert ahead[0] < ahead[1] < ahead[2]
    assert back[0] > back[1] > back[2]
    np.testing.assert_allclose(ahead + back, 1.0)  # 0.1 + 0.9: mirrored in the range
    assert back.min() >= 0.1 and back.max() <= 0.9
