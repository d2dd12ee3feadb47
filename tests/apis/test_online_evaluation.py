import numpy as np
import pytest

from mmstda.apis.online_evaluation import emission_latencies, latency_summary


def _segment(label, start, end, emitted):
    return dict(label=label, start_frame=start, end_frame=end, score=0.5, emitted_frame=emitted)


def test_latency_counts_from_gesture_end_to_the_first_matching_emission():
    gt_segments = np.array([[100, 150], [300, 340], [500, 520]], dtype=np.float32)
    gt_labels = np.array([1, 2, 0])
    segments = [
        _segment(1, 100, 148, 170),  # matches GT 0 (tIoU 0.96), emitted 20 after its end
        _segment(1, 98, 150, 160),  # matches it too and came out earlier: 10
        _segment(0, 300, 340, 345),  # right place, wrong class: no match for GT 1
        _segment(0, 400, 420, 430),  # misses GT 2 entirely
    ]
    assert emission_latencies(segments, gt_segments, gt_labels, iou_thr=0.3) == [10]
    assert emission_latencies([], gt_segments, gt_labels, iou_thr=0.3) == []


def test_latency_summary_in_frames_and_seconds():
    summary = latency_summary([10, 20, 30, 40], fps=28.0)
    assert summary['latency_matched'] == 4
    assert summary['latency_median_frames'] == 25.0
    # Linear interpolation: 30 + 0.85 * (40 - 30).
    assert summary['latency_p95_frames'] == pytest.approx(38.5)
    assert summary['latency_median_s'] == pytest.approx(25 / 28)
    assert np.isnan(latency_summary([], fps=28.0)['latency_median_s'])
