import numpy as np
import pytest

from mmstda.models.heads import Segment, SegmentDecoder, decode_segments


def _scores(columns: list[list[float]]) -> np.ndarray:
    """Class probabilities (T, K) from one list per class."""
    return np.array(columns, dtype=np.float64).T


def _no_boundaries(num_frames: int) -> np.ndarray:
    return np.zeros((num_frames, 2))


def test_runs_above_threshold_become_segments_with_mean_score():
    cls = _scores([[0.1, 0.6, 0.8, 0.7, 0.2, 0.9, 0.9, 0.1], [0.0] * 8])
    segments = decode_segments(cls, _no_boundaries(8), score_thr=0.5)
    assert segments == [Segment(1, 4, 0, pytest.approx(0.7)), Segment(5, 7, 0, 0.9)]


def test_min_duration_drops_short_runs():
    cls = _scores([[0.1, 0.6, 0.8, 0.7, 0.2, 0.9, 0.9, 0.1]])
    segments = decode_segments(cls, _no_boundaries(8), score_thr=0.5, min_duration=3)
    assert [(s.start, s.end) for s in segments] == [(1, 4)]


def test_start_and_end_ness_split_back_to_back_gestures():
    cls = _scores([[0.8] * 8])
    boundaries = _no_boundaries(8)
    boundaries[3, 0] = 0.9  # a new gesture starts at frame 3
    boundaries[5, 1] = 0.9  # a gesture ends with frame 5
    segments = decode_segments(cls, boundaries, score_thr=0.5, boundary_thr=0.5)
    assert [(s.start, s.end) for s in segments] == [(0, 3), (3, 6), (6, 8)]


def test_start_ness_on_the_first_frame_of_a_run_does_not_split_it():
    cls = _scores([[0.0, 0.8, 0.8, 0.8]])
    boundaries = _no_boundaries(4)
    boundaries[1, 0] = 0.9
    segments = decode_segments(cls, boundaries, score_thr=0.5)
    assert [(s.start, s.end) for s in segments] == [(1, 4)]


def test_class_agnostic_nms_keeps_the_higher_scored_of_overlapping_classes():
    # class 0 on frames 0-5 (score 0.9), class 1 on frames 1-5 (0.6): tIoU 5/6.
    cls = _scores([[0.9] * 6, [0.1] + [0.6] * 5])
    agnostic = decode_segments(cls, _no_boundaries(6), score_thr=0.5, nms_iou_thr=0.5)
    assert [(s.start, s.end, s.label) for s in agnostic] == [(0, 6, 0)]
    per_class = decode_segments(
        cls, _no_boundaries(6), score_thr=0.5, nms_iou_thr=0.5, nms_class_agnostic=False
    )
    assert [(s.start, s.end, s.label) for s in per_class] == [(0, 6, 0), (1, 6, 1)]


def test_nms_keeps_overlaps_at_or_below_the_iou_threshold():
    # class 0 on 0-3, class 1 on 2-5: tIoU (4 - 2) / (6 - 0) = 1/3.
    cls = _scores([[0.9] * 4 + [0.0] * 2, [0.0] * 2 + [0.6] * 4])
    segments = decode_segments(cls, _no_boundaries(6), score_thr=0.5, nms_iou_thr=0.4)
    assert [(s.start, s.end, s.label) for s in segments] == [(0, 4, 0), (2, 6, 1)]


def test_segment_is_released_as_soon_as_nothing_later_can_suppress_it():
    decoder = SegmentDecoder(1, score_thr=0.5)
    assert decoder.update(_scores([[0.9, 0.9, 0.9]]), _no_boundaries(3)) == []
    released = decoder.update(_scores([[0.1]]), _no_boundaries(1))
    assert released == [Segment(0, 3, 0, pytest.approx(0.9))]
    assert decoder.finish() == []


def test_segment_overlapping_an_open_run_waits_for_it():
    # class 0 closes at frame 3 while class 1 (open since frame 2) may still suppress it.
    decoder = SegmentDecoder(2, score_thr=0.5, nms_iou_thr=0.5)
    cls = _scores([[0.9, 0.9, 0.9, 0.0, 0.0], [0.0, 0.0, 0.7, 0.7, 0.7]])
    assert decoder.update(cls, _no_boundaries(5)) == []
    assert decoder.num_pending == 1
    # tIoU of (0, 3) and (2, 6) is 1/6: both survive once class 1 closes.
    released = decoder.update(_scores([[0.0], [0.0]]), _no_boundaries(1))
    assert [(s.start, s.end, s.label) for s in released] == [(0, 3, 0), (2, 5, 1)]


def test_streaming_in_chunks_equals_decoding_at_once():
    rng = np.random.default_rng(0)
    cls = rng.random((200, 3))
    boundaries = rng.random((200, 2)) * 0.6
    cfg = dict(score_thr=0.6, boundary_thr=0.55, min_duration=2, nms_iou_thr=0.3)
    offline = decode_segments(cls, boundaries, **cfg)
    decoder = SegmentDecoder(3, **cfg)
    streamed = []
    for start in range(0, 200, 7):
        streamed += decoder.update(cls[start : start + 7], boundaries[start : start + 7])
    streamed += decoder.finish()
    assert len(offline) > 10
    assert sorted(streamed, key=lambda s: (s.start, s.label)) == offline


def test_bad_shapes_raise_clear_errors():
    decoder = SegmentDecoder(3)
    with pytest.raises(ValueError, match=r'cls_scores must have shape \(t, 3\)'):
        decoder.update(np.zeros((4, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r'boundary_scores must have shape \(4, 2\)'):
        decoder.update(np.zeros((4, 3)), np.zeros((4, 1)))
