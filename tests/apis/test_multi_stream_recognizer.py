"""Many streams through one model: same output per stream, fewer forwards."""

import numpy as np
import pytest
from test_online_recognizer import CLIP, _as_tuples, _recognizer, _stream, _video

from mmstda.apis import MultiStreamRecognizer


def _assert_same(got: list, expected: list) -> None:
    got = _as_tuples(got)
    assert [s[:3] for s in got] == [s[:3] for s in expected]
    np.testing.assert_allclose([s[3] for s in got], [s[3] for s in expected], atol=1e-4)


def _counting(multi: MultiStreamRecognizer) -> list:
    calls = []
    forward_stream = multi.model.forward_stream

    def counting(clip, state):
        calls.append(tuple(clip.shape[:3]))
        return forward_stream(clip, state)

    multi.model.forward_stream = counting
    return calls


def test_each_stream_gets_what_a_recognizer_of_its_own_emits():
    videos = [_video(61, seed=s) for s in range(3)]
    expected = [_as_tuples(_stream(_recognizer(), v, chunks=(3,))) for v in videos]
    assert all(len(e) >= 2 for e in expected) and expected[0] != expected[1]

    multi = MultiStreamRecognizer(_recognizer(), 3)
    calls = _counting(multi)
    got = [[] for _ in videos]
    for start in range(0, 61, 3):
        for i, segments in enumerate(multi.process([v[start : start + 3] for v in videos])):
            got[i] += segments
    for i in range(3):
        got[i] += multi.finish(i)
    for mine, theirs in zip(got, expected):
        _assert_same(mine, theirs)
    # 15 full clips per stream, one batched forward of the 3 streams per clip; the
    # partial last clips are flushed per stream by finish().
    assert calls[:15] == [(3, 3, CLIP)] * 15
    assert len(calls) == 15 + 3


def test_streams_at_different_points_are_batched_when_ready():
    videos = [_video(40, seed=s) for s in range(2)]
    expected = [_as_tuples(_stream(_recognizer(), v, chunks=(5,))) for v in videos]
    multi = MultiStreamRecognizer(_recognizer(), 2)
    calls = _counting(multi)
    got = [[], []]
    # Stream 1 joins 12 frames late and gets no frames at some steps.
    for step in range(20):
        a = videos[0][step * 2 : step * 2 + 2]
        b = videos[1][(step - 6) * 2 : (step - 6) * 2 + 2] if step >= 6 else None
        for i, segments in enumerate(multi.process([a, b])):
            got[i] += segments
    for step in range(20, 26):
        got[1] += multi.process([None, videos[1][(step - 6) * 2 : (step - 6) * 2 + 2]])[1]
    got = [g + multi.finish(i) for i, g in enumerate(got)]
    for mine, theirs in zip(got, expected):
        _assert_same(mine, theirs)
    # Batched whenever both had a clip ready and both had started.
    assert (2, 3, CLIP) in calls


def test_a_new_stream_does_not_reuse_another_streams_state():
    video = _video(48, seed=4)
    expected = _as_tuples(_stream(_recognizer(), video, chunks=(4,)))
    multi = MultiStreamRecognizer(_recognizer(), 2)
    for start in range(0, 48, 4):  # stream 0 runs alone first
        multi.process([_video(4, seed=100 + start), None])
    got = []
    for start in range(0, 48, 4):
        got += multi.process([_video(4, seed=200 + start), video[start : start + 4]])[1]
    got += multi.finish(1)
    _assert_same(got, expected)


def test_wrong_number_of_streams_is_refused():
    multi = MultiStreamRecognizer(_recognizer(), 2)
    with pytest.raises(ValueError, match='frames for 2 streams'):
        multi.process([_video(4)])
    with pytest.raises(ValueError, match='num_streams must be an int >= 1, got 0'):
        MultiStreamRecognizer(_recognizer(), 0)
