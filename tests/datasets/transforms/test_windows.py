import numpy as np
import pytest

from mmstda.datasets.transforms import SampleMGWindow, TemporalSpeedJitter, window_segments

VIDEO_SEGMENTS = np.array([[10, 30], [50, 70], [95, 140]], np.float32)
VIDEO_LABELS = np.array([2, 0, 1], np.int64)


def _results(start=None, total_frames=200, window_frames=8, frame_interval=4):
    return dict(
        total_frames=total_frames,
        window_frames=window_frames,
        frame_interval=frame_interval,
        video_gt_segments=VIDEO_SEGMENTS.copy(),
        video_gt_labels=VIDEO_LABELS.copy(),
        window_start_frame=start,
    )


def test_window_segments_clip_and_shift():
    segments, labels = window_segments(VIDEO_SEGMENTS, VIDEO_LABELS, 20, 40)
    np.testing.assert_array_equal(segments, [[0, 10], [30, 40]])
    np.testing.assert_array_equal(labels, [2, 0])
    segments, labels = window_segments(VIDEO_SEGMENTS, VIDEO_LABELS, 40, 20, speed=2.0)
    np.testing.assert_array_equal(segments, [[5, 15]])
    assert segments.dtype == np.float32 and labels.dtype == np.int64


def test_test_window_is_kept_where_the_dataset_put_it():
    out = SampleMGWindow().transform(_results(start=40))
    assert out['window_start_frame'] == 40
    np.testing.assert_array_equal(out['frame_inds'], 40 + 4 * np.arange(8))
    np.testing.assert_array_equal(out['gt_segments'], [[10, 30]])
    np.testing.assert_array_equal(out['gt_labels'], [0])


def test_window_past_the_end_repeats_the_last_frame():
    out = SampleMGWindow().transform(_results(start=0, total_frames=20))
    np.testing.assert_array_equal(out['frame_inds'], [0, 4, 8, 12, 16, 19, 19, 19])


def test_class_balanced_centring_prefers_rare_classes():
    sampler = SampleMGWindow(gesture_centred_ratio=1.0, centre_jitter_ratio=0.0)
    sampler.set_class_counts([1000, 1000, 1])
    np.random.seed(0)
    centred_on_rare = 0
    for _ in range(200):
        out = sampler.transform(_results())
        centred_on_rare += out['window_start_frame'] == 4  # centre 20 - span 32 / 2
    assert centred_on_rare > 150


def test_bad_arguments():
    with pytest.raises(ValueError, match='gesture_centred_ratio \\+ background_ratio'):
        SampleMGWindow(gesture_centred_ratio=0.8, background_ratio=0.5)
    with pytest.raises(ValueError, match='speed_range'):
        TemporalSpeedJitter(speed_range=(1.2, 0.8))


@pytest.mark.parametrize('speed', [0.8, 1.25])
def test_speed_change_keeps_segments_on_their_frames(speed):
    np.random.seed(0)
    results = SampleMGWindow().transform(_results(start=80))
    out = TemporalSpeedJitter(speed_range=(speed, speed), prob=1.0).transform(results)
    assert out['speed_factor'] == pytest.approx(speed)
    span = 8 * 4
    assert np.all((out['gt_segments'] >= 0) & (out['gt_segments'] <= span))
    np.testing.assert_allclose(np.diff(out['frame_inds']), 4 * speed, atol=1)
    # Clip frame i (nominal offset 4 * i) lies inside a window segment exactly when its
    # native frame lies inside the matching video segment (up to 1 frame of rounding).
    for i, native in enumerate(out['frame_inds']):
        nominal = 4 * i
        for (s, e), label in zip(out['gt_segments'], out['gt_labels']):
            video_s, video_e = VIDEO_SEGMENTS[list(VIDEO_LABELS).index(label)]
            inside_window = s + 1 < nominal < e - 1
            inside_video = video_s <= native <= video_e
            if inside_window:
                assert inside_video
            if video_s + speed < native < video_e - speed:
                assert s <= nominal <= e


def test_speed_change_never_empties_a_window():
    np.random.seed(0)
    jitter = TemporalSpeedJitter(speed_range=(0.8, 0.8), prob=1.0)
    # Window [36, 68) only touches the gesture [50, 70] at its end: the slower window
    # (about [39, 65)) still sees it, a window that lost it would be kept unchanged.
    for start in (36, 60, 62):
        results = SampleMGWindow().transform(_results(start=start))
        out = jitter.transform(dict(results))
        assert len(out['gt_segments']) > 0
