import numpy as np
import pytest
import torch

from mmstda.models.heads import Segment, SegmentDecoder, decode_segments
from mmstda.models.heads.segment_decoder import OngoingRun
from mmstda.structures import batched_nms_1d


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


def test_segment_waits_only_while_an_open_run_can_still_suppress_it():
    # class 0 on [0, 4) closes at frame 4; class 1 has been on since frame 1. If class 1
    # ended at 5 its segment [1, 5) would have tIoU 3/5 > 0.5 with [0, 4): wait.
    decoder = SegmentDecoder(2, score_thr=0.5, nms_iou_thr=0.5)
    cls = _scores([[0.9] * 4 + [0.0] * 2, [0.0] + [0.7] * 5])
    assert decoder.update(cls, _no_boundaries(6)) == []
    assert decoder.num_pending == 1
    # From frame 7 on class 1 can reach at most 3/7 < 0.5: released while it is still on.
    released = decoder.update(_scores([[0.0], [0.7]]), _no_boundaries(1))
    assert [(s.start, s.end, s.label) for s in released] == [(0, 4, 0)]
    assert decoder.num_pending == 0
    assert [(s.start, s.end, s.label) for s in decoder.finish()] == [(1, 7, 1)]


def test_held_segment_is_suppressed_when_the_open_run_ends_close_to_it():
    decoder = SegmentDecoder(2, score_thr=0.5, nms_iou_thr=0.5)
    cls = _scores([[0.6] * 4 + [0.0] * 2, [0.0] + [0.9] * 4 + [0.0]])
    # class 1 [1, 5) scores 0.9 and has tIoU 3/5 with class 0's [0, 4) (0.6).
    segments = decoder.update(cls, _no_boundaries(6)) + decoder.finish()
    assert [(s.start, s.end, s.label) for s in segments] == [(1, 5, 1)]


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


def _global_nms_oracle(cls, boundaries, **cfg):
    """Every run, then one greedy NMS over the whole sequence."""
    nms_iou_thr = cfg.pop('nms_iou_thr')
    agnostic = cfg.pop('nms_class_agnostic', True)
    everything = decode_segments(cls, boundaries, nms_iou_thr=1.0, **cfg)
    keep = batched_nms_1d(
        torch.tensor([[s.start, s.end] for s in everything], dtype=torch.float64),
        torch.tensor([s.score for s in everything], dtype=torch.float64),
        torch.tensor([s.label for s in everything], dtype=torch.long),
        nms_iou_thr,
        class_agnostic=agnostic,
    )
    kept = [everything[i] for i in keep.tolist()]
    return everything, sorted(kept, key=lambda s: (s.start, s.label))


def _stream(decoder, cls, boundaries, chunks):
    """Feed ragged chunks; return (segment, native frames seen when emitted) pairs."""
    emitted, start, i, max_pending = [], 0, 0, 0
    while start < len(cls):
        stop = start + chunks[i % len(chunks)]
        for segment in decoder.update(cls[start:stop], boundaries[start:stop]):
            emitted.append((segment, min(stop, len(cls))))
        max_pending = max(max_pending, decoder.num_pending)
        start, i = stop, i + 1
    emitted += [(segment, len(cls)) for segment in decoder.finish()]
    return emitted, max_pending


def _smooth_random_scores(num_frames, num_classes, seed):
    # Piecewise-constant probabilities: runs of varied length that overlap across classes.
    rng = np.random.default_rng(seed)
    levels = rng.random((num_frames // 10 + 1, num_classes))
    return np.repeat(levels, 10, axis=0)[:num_frames] + rng.normal(
        0, 0.05, (num_frames, num_classes)
    )


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_streaming_ragged_chunks_equals_one_global_nms(seed):
    cls = _smooth_random_scores(3000, 4, seed)
    boundaries = np.random.default_rng(seed).random((3000, 2)) * 0.55
    cfg = dict(score_thr=0.55, boundary_thr=0.54, min_duration=3, nms_iou_thr=0.4)
    everything, oracle = _global_nms_oracle(cls, boundaries, **cfg)
    assert len(oracle) > 50 and len(everything) > len(oracle) + 20  # NMS really works
    emitted, _ = _stream(SegmentDecoder(4, **cfg), cls, boundaries, chunks=(1, 16, 5, 33, 2))
    assert sorted((s for s, _ in emitted), key=lambda s: (s.start, s.label)) == oracle


def test_class_aware_nms_emits_each_segment_with_the_chunk_that_closes_it():
    # Runs of one class never overlap, so per-class NMS has nothing to wait for.
    cls = _smooth_random_scores(3000, 4, seed=3)
    cfg = dict(score_thr=0.55, min_duration=3, nms_iou_thr=0.4, nms_class_agnostic=False)
    everything, oracle = _global_nms_oracle(cls, _no_boundaries(3000), **cfg)
    assert oracle == everything and len(oracle) > 50
    emitted, max_pending = _stream(
        SegmentDecoder(4, **cfg), cls, _no_boundaries(3000), chunks=(1, 16, 5, 33, 2)
    )
    assert sorted((s for s, _ in emitted), key=lambda s: (s.start, s.label)) == oracle
    assert max_pending == 0
    assert all(at - s.end <= 33 for s, at in emitted)


def test_a_class_held_on_for_minutes_does_not_delay_other_classes():
    # The reproduction: class 0 at 0.35 (above 0.3) for 20,000 frames; class 1
    # has a 40-frame gesture every 200 frames. Fed 16 frames at a time.
    num_frames = 20_000
    cls = np.zeros((num_frames, 2))
    cls[:, 0] = 0.35
    gesture_starts = np.arange(100, num_frames - 100, 200)
    for start in gesture_starts:
        cls[start : start + 40, 1] = 0.8
    emitted, max_pending = _stream(
        SegmentDecoder(2, score_thr=0.3), cls, _no_boundaries(num_frames), chunks=(16,)
    )
    gestures = [(s, at) for s, at in emitted if s.label == 1]
    assert [(s.start, s.end) for s, _ in gestures] == [(g, g + 40) for g in gesture_starts]
    # Each one is emitted with the chunk that closes it.
    assert max(at - s.end for s, at in gestures) <= 16
    assert max_pending <= 1
    held = [s for s, _ in emitted if s.label == 0]
    assert [(s.start, s.end) for s in held] == [(0, num_frames)]


def test_flickering_scores_keep_pending_state_and_latency_bounded():
    rng = np.random.default_rng(0)
    num_frames, num_classes = 20_000, 5
    # Every class flickers around the threshold, frame by frame.
    cls = 0.3 + rng.normal(0, 0.05, (num_frames, num_classes))
    cfg = dict(score_thr=0.3, min_duration=2, nms_iou_thr=0.5)
    emitted, max_pending = _stream(
        SegmentDecoder(num_classes, **cfg), cls, _no_boundaries(num_frames), chunks=(16, 7)
    )
    assert len(emitted) > 1000
    assert max_pending <= 2 * num_classes
    # A segment waits at most (1 / 0.5 - 1) x the longest segment of its NMS group,
    # plus the chunk that emits it.
    longest = max(s.end - s.start for s, _ in emitted)
    assert longest < 40
    assert max(at - s.end for s, at in emitted[:-10]) <= longest + 16
    _, oracle = _global_nms_oracle(cls, _no_boundaries(num_frames), **cfg)
    assert sorted((s for s, _ in emitted), key=lambda s: (s.start, s.label)) == oracle


@pytest.mark.parametrize('tied', [False, True])
def test_every_class_on_at_once_keeps_pending_state_bounded(tied):
    # All classes above threshold all the time, each dipping for one frame every 300
    # frames at its own offset: every segment overlaps open runs of every other class.
    num_frames, num_classes = 30_000, 6
    cls = np.full((num_frames, num_classes), 0.6)
    for label in range(num_classes):
        cls[label * 50 :: 300, label] = 0.1
    if not tied:
        cls += np.arange(num_classes) * 0.01  # distinct scores: NMS has a clear winner
    # Tied, every full segment scores 0.6: the earlier start wins.
    cfg = dict(score_thr=0.3, nms_iou_thr=0.5)
    emitted, max_pending = _stream(
        SegmentDecoder(num_classes, **cfg), cls, _no_boundaries(num_frames), chunks=(16,)
    )
    assert max_pending <= 2 * num_classes
    # At most (1 / 0.5 - 1) x 300 frames after a segment ends, plus one chunk.
    assert max(at - s.end for s, at in emitted[:-num_classes]) <= 300 + 16
    _, oracle = _global_nms_oracle(cls, _no_boundaries(num_frames), **cfg)
    assert sorted((s for s, _ in emitted), key=lambda s: (s.start, s.label)) == oracle


def test_ongoing_lists_open_runs_with_start_and_scores():
    decoder = SegmentDecoder(3, score_thr=0.5)
    decoder.update(_scores([[0.9, 0.7, 0.8], [0.0, 0.6, 0.9], [0.0] * 3]), _no_boundaries(3))
    assert decoder.ongoing() == [
        OngoingRun(0, 0, pytest.approx(0.8), pytest.approx(0.8)),
        OngoingRun(1, 1, pytest.approx(0.75), pytest.approx(0.9)),
    ]
    decoder.update(_scores([[0.1], [0.1], [0.1]]), _no_boundaries(1))
    assert decoder.ongoing() == []


def _saturated(num_frames: int, runs: list[tuple[int, int, int]], num_classes: int):
    """Probabilities exactly 1 on each ``(start, end, label)`` run, 0 elsewhere."""
    cls = np.zeros((num_frames, num_classes))
    for start, end, label in runs:
        cls[start:end, label] = 1.0
    return cls


# Saturated runs (every segment scores exactly 1.0), each block far from the others.
TIED_RUNS = [
    (2, 6, 0),
    (1, 6, 1),  # tIoU 4/5 with [2, 6): the earlier start (1, 6, 1) wins
    (10, 15, 3),
    (10, 15, 2),  # the same span: the lower label (10, 15, 2) wins
    (20, 25, 0),
    (20, 24, 1),  # tIoU 4/5: the shorter (20, 24, 1) wins over the lower label
    (30, 34, 0),
    (31, 35, 1),
    (32, 36, 2),  # a chain (3/5, 3/5, 2/6): (30, 34, 0) wins, so (32, 36, 2) stays
    (40, 44, 0),
    (39, 45, 1),  # tIoU 4/6: the earlier start (39, 45, 1) wins, though it ends later
]
TIED_KEPT = [(1, 6, 1), (10, 15, 2), (20, 24, 1), (30, 34, 0), (32, 36, 2), (39, 45, 1)]


@pytest.mark.parametrize('chunks', [(1,), (7,), (2, 5, 3), (50,)])
def test_streamed_ties_equal_one_shot_nms_whatever_the_candidates_order(chunks):
    cls = _saturated(50, TIED_RUNS, num_classes=4)
    cfg = dict(score_thr=0.5, nms_iou_thr=0.5)  # class-agnostic (the default)
    emitted, _ = _stream(SegmentDecoder(4, **cfg), cls, _no_boundaries(50), chunks=chunks)
    streamed = sorted((s for s, _ in emitted), key=lambda s: (s.start, s.label))
    assert [(s.start, s.end, s.label) for s in streamed] == TIED_KEPT
    assert all(s.score == 1.0 for s in streamed)
    assert streamed == decode_segments(cls, _no_boundaries(50), **cfg)
    # One batched_nms_1d over every run, in any order, keeps the same segments.
    candidates = torch.tensor([[s, e] for s, e, _ in TIED_RUNS], dtype=torch.float64)
    labels = torch.tensor([label for _, _, label in TIED_RUNS])
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        perm = torch.randperm(len(TIED_RUNS), generator=generator)
        keep = batched_nms_1d(
            candidates[perm],
            torch.ones(len(perm), dtype=torch.float64),
            labels[perm],
            0.5,
            class_agnostic=True,
        )
        kept = sorted((TIED_RUNS[i] for i in perm[keep].tolist()), key=lambda r: (r[0], r[2]))
        assert kept == TIED_KEPT


def test_a_tie_winner_is_released_while_an_open_run_still_reaches_the_loser():
    # [1, 6) label 1 beats [2, 6) label 0 (tIoU 4/5, earlier start). Both close at
    # frame 6; label 2 is on from frame 3 to 30. At 7 frames seen it could still end
    # with tIoU 3/5 > 0.55 with [2, 6), but at most 3/6 with [1, 6): the winner is
    # settled at once, the loser one frame later.
    decoder = SegmentDecoder(3, score_thr=0.5, nms_iou_thr=0.55)
    cls = _saturated(40, [(2, 6, 0), (1, 6, 1), (3, 30, 2)], num_classes=3)
    assert decoder.update(cls[:6], _no_boundaries(6)) == []
    assert decoder.update(cls[6:7], _no_boundaries(1)) == [Segment(1, 6, 1, 1.0)]
    assert decoder.num_pending == 1
    assert decoder.update(cls[7:8], _no_boundaries(1)) == []
    assert decoder.num_pending == 0
    rest = decoder.update(cls[8:], _no_boundaries(32)) + decoder.finish()
    assert rest == [Segment(3, 30, 2, 1.0)]


def _overlapping_chain(num_segments: int, scores: np.ndarray) -> np.ndarray:
    """Segment i: class i % 5 on frames [3i, 3i + 12), probability scores[i].

    Neighbours overlap by 9 of 15 frames (tIoU 0.6): one NMS group at 0.5.
    """
    cls = np.zeros((3 * num_segments + 12, 5))
    for i, score in enumerate(scores):
        cls[3 * i : 3 * i + 12, i % 5] = score
    return cls


def _max_pending_and_wait(cls: np.ndarray) -> tuple[int, int]:
    decoder = SegmentDecoder(5, score_thr=0.3, boundary_thr=1.1, nms_iou_thr=0.5)
    max_pending, max_wait = 0, 0
    for t in range(len(cls)):
        for segment in decoder.update(cls[t : t + 1], np.zeros((1, 2))):
            max_wait = max(max_wait, t + 1 - segment.end)
        max_pending = max(max_pending, decoder.num_pending)
    return max_pending, max_wait


def test_a_chain_of_rising_scores_holds_every_segment_until_it_ends():
    # The adversarial case the class docstring states: exact NMS cannot settle the
    # first segment of the chain before the last one closes.
    num = 100
    max_pending, max_wait = _max_pending_and_wait(
        _overlapping_chain(num, 0.5 + 0.4 * np.arange(num) / num)
    )
    assert max_pending == num - 1
    assert max_wait >= 3 * (num - 2)


def test_a_chain_of_random_scores_settles_within_a_segment_length():
    rng = np.random.default_rng(0)
    max_pending, max_wait = _max_pending_and_wait(
        _overlapping_chain(800, rng.uniform(0.5, 0.9, 800))
    )
    assert max_pending <= 6
    assert max_wait <= 12


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_settling_only_when_something_can_change_emits_each_segment_as_early(seed):
    # The decoder settles pending segments only when a run closes or an open run's
    # reach may have ended; settling at every frame must emit nothing earlier.
    cls = _smooth_random_scores(400, 4, seed)
    boundaries = np.random.default_rng(seed).uniform(0, 0.6, (400, 2))
    lazy, eager = SegmentDecoder(4, score_thr=0.4), SegmentDecoder(4, score_thr=0.4)
    lazy_out, eager_out = [], []
    for t in range(400):
        eager._next_check = 0  # settle at every frame, as before the shortcut
        lazy_out += [(s, t) for s in lazy.update(cls[t : t + 1], boundaries[t : t + 1])]
        eager_out += [(s, t) for s in eager.update(cls[t : t + 1], boundaries[t : t + 1])]
    assert len(eager_out) >= 10
    assert lazy_out == eager_out
