"""The recognizer's clock: emission times, dropped frames, counts, several clips per forward."""

import numpy as np
import pytest
from test_online_recognizer import CLIP, _as_tuples, _recognizer, _stream, _video


def _one_frame_at_a_time(recognizer, video) -> list:
    segments = []
    for frame in video:
        segments += recognizer.process(frame[None])
    return segments + recognizer.finish()


@pytest.mark.parametrize('frame_interval', [1, 2, 3])
def test_a_segment_is_never_emitted_before_its_last_frame_arrives(frame_interval):
    # The case: at frame_interval 2, one frame per call, end_frame counted a
    # frame not received yet (emitted_frame - end_frame was -1 for 11 of 29).
    recognizer = _recognizer(frame_interval)
    segments = _one_frame_at_a_time(recognizer, _video(60 * frame_interval + 1))
    assert len(segments) >= 5
    assert all(s['emitted_frame'] >= s['end_frame'] for s in segments)
    # Emitted as soon as due: a segment waits one clip at most, plus the decoder.
    assert min(s['emitted_frame'] - s['end_frame'] for s in segments) == 0


def test_delaying_emission_does_not_change_the_segments():
    video = _video(97)
    one_by_one = _as_tuples(_one_frame_at_a_time(_recognizer(2), video))
    chunked = _as_tuples(_stream(_recognizer(2), video, chunks=(16,)))
    assert one_by_one == chunked


def test_num_segments_survives_finish_and_restarts_with_the_next_video():
    recognizer = _recognizer()
    emitted = _stream(recognizer, _video(48))
    assert len(emitted) >= 3
    assert recognizer.num_segments == len(emitted)
    assert recognizer.num_frames_seen == 48
    recognizer.process(_video(2, seed=5))
    assert recognizer.num_frames_seen == 2
    assert recognizer.num_segments == 0


def test_all_waiting_clips_run_in_one_forward_with_the_same_output():
    video = _video(64)
    expected = _as_tuples(_one_frame_at_a_time(_recognizer(), video))
    recognizer = _recognizer()
    recognizer.max_clips_per_forward = 6
    calls = []
    forward_stream = recognizer.model.forward_stream

    def counting(clip, state):
        calls.append(clip.shape[2])
        return forward_stream(clip, state)

    recognizer.model.forward_stream = counting
    got = _as_tuples(recognizer.process(video) + recognizer.finish())
    assert [s[:3] for s in got] == [s[:3] for s in expected]
    np.testing.assert_allclose([s[3] for s in got], [s[3] for s in expected], atol=1e-5)
    # 16 clips: forwards of 6, 6 and 4 clips instead of 16 of one.
    assert calls == [6 * CLIP, 6 * CLIP, 4 * CLIP]


@pytest.mark.parametrize('frame_interval', [1, 2])
def test_skipped_frames_keep_segments_on_the_sources_clock(frame_interval):
    # A live source drops native frames [gap_at, gap_at + gap): the model sees the
    # frames around the gap as consecutive, and every frame number stays the source's.
    gap_at, gap = 4 * CLIP * frame_interval, 2 * CLIP * frame_interval
    video = _video(96 * frame_interval)
    seen = np.concatenate([video[:gap_at], video[gap_at + gap :]])
    reference = _stream(_recognizer(frame_interval), seen, chunks=(5,))

    recognizer = _recognizer(frame_interval)
    got = []
    for start in range(0, gap_at, 5):
        got += recognizer.process(video[start : min(start + 5, gap_at)])
    got += recognizer.skip(gap)
    for start in range(gap_at + gap, len(video), 5):
        got += recognizer.process(video[start : start + 5])
    got += recognizer.finish()

    def on_source_clock(frame: int, is_end: bool) -> int:
        return frame + gap if (frame > gap_at if is_end else frame >= gap_at) else frame

    expected = sorted(
        (
            s['label'],
            on_source_clock(s['start_frame'], False),
            on_source_clock(s['end_frame'], True),
        )
        for s in reference
    )
    assert len(expected) >= 4 and any(s[1] > gap_at for s in expected)
    assert sorted((s['label'], s['start_frame'], s['end_frame']) for s in got) == expected
    assert recognizer.num_frames_seen == len(video)
    assert recognizer.num_frames_skipped == gap
    assert all(s['emitted_frame'] >= s['end_frame'] for s in got)


def test_skip_refuses_a_negative_count():
    with pytest.raises(ValueError, match='num_frames must be an int >= 0, got -3'):
        _recognizer().skip(-3)


def test_latency_bound_is_one_clip_plus_the_decoders_wait():
    recognizer = _recognizer(2)
    assert recognizer.frames_per_clip == 2 * CLIP
    # nms_iou_thr 0.3 in the test config: a segment of 30 frames waits at most
    # (1 / 0.3 - 1) * 30 = 70 frames, after one clip (8) and one frame step (2).
    assert recognizer.latency_bound_frames(30) == 8 + 70 + 2


def test_num_pending_counts_what_is_decoded_but_not_emitted():
    recognizer = _recognizer(2)
    seen_pending = False
    for frame in _video(120):
        recognizer.process(frame[None])
        held = recognizer._decoder.num_pending + len(recognizer._held)
        assert recognizer.num_pending == held
        seen_pending |= held > 0
    assert seen_pending
    recognizer.finish()
    assert recognizer.num_pending == 0


def test_a_segment_waiting_for_its_last_frame_is_flushed_by_finish():
    # Frame interval 2, 41 native frames: the last kept frame is native 40, whose step
    # ends at 42. A segment the decoder closes on it waits for frame 41, which never
    # comes: finish() must emit it, ending at the video's last frame, not drop it.
    from mmstda.models.heads import Segment

    recognizer = _recognizer(2, score_thr=0.99)  # nothing else comes out
    assert recognizer.process(_video(41)) == []
    last = recognizer._model_frames  # 21 model frames: 0..20
    # What the decoder returns when a run ends (end-ness) on the last kept frame.
    assert recognizer._emit([Segment(10, last, 1, 0.995)]) == []  # waits for frame 42
    assert recognizer.num_pending >= 1
    (segment,) = [s for s in recognizer.finish() if s['score'] == 0.995]
    assert (segment['start_frame'], segment['end_frame'], segment['emitted_frame']) == (20, 41, 41)
    assert recognizer.num_segments >= 1
