"""Hand-computed cases for ``segment_f1``.

tIoU(p, g) = (min(pe, ge) - max(ps, gs)) / (max(pe, ge) - min(ps, gs)), no +1.
"""

import math
import warnings

import numpy as np
import pytest
import torch

from mmstda.evaluation import segment_f1

KEYS = ('precision', 'recall', 'f1', 'tp', 'num_pred', 'num_gt')


def summary(result: dict) -> tuple:
    return tuple(result[k] for k in KEYS)


@pytest.mark.parametrize('match', ['starter-kit', 'one-to-one'])
def test_tiou_exactly_threshold_is_not_a_match(match):
    # GT [0, 10], pred [0, 3]: tIoU = (3 - 0) / (10 - 0) = 0.3, and the rule is strict >.
    # A float32 IoU would round 0.3 up to 0.30000001 and wrongly count it.
    result = segment_f1({'v': [(1, 0, 3, 0.9)]}, {'v': [(1, 0, 10)]}, match=match)
    assert summary(result) == (0.0, 0.0, 0.0, 0, 1, 1)


@pytest.mark.parametrize('match', ['starter-kit', 'one-to-one'])
def test_tiou_just_above_threshold_is_a_match(match):
    # GT [0, 10], pred [0, 3.01]: tIoU = 0.301 > 0.3 -> TP; P = R = F1 = 1.
    result = segment_f1({'v': [(1, 0, 3.01, 0.9)]}, {'v': [(1, 0, 10)]}, match=match)
    assert summary(result) == (1.0, 1.0, 1.0, 1, 1, 1)


@pytest.mark.parametrize('match', ['starter-kit', 'one-to-one'])
def test_label_mismatch_never_matches(match):
    # Identical segments (tIoU 1) but labels 1 vs 2: 0 TP, 1 pred, 1 GT.
    result = segment_f1({'v': [(2, 0, 10, 0.9)]}, {'v': [(1, 0, 10)]}, match=match)
    assert summary(result) == (0.0, 0.0, 0.0, 0, 1, 1)
    # Per class: class 1 has only a GT, class 2 only a prediction.
    assert summary(result['per_class'][1]) == (0.0, 0.0, 0.0, 0, 0, 1)
    assert summary(result['per_class'][2]) == (0.0, 0.0, 0.0, 0, 1, 0)


@pytest.mark.parametrize('iou_thr', [-1, -0.4, 1, 1.5])
def test_iou_thr_outside_zero_one_is_refused(iou_thr):
    # Disjoint: GT [0, 10], pred [20, 30]: tIoU = (10 - 20) / (30 - 0) = -1/3, which
    # a negative threshold would count as a hit; at 1 or more nothing can match.
    preds, gts = {'v': [(0, 20, 30, 0.5)]}, {'v': [(0, 0, 10)]}
    with pytest.raises(ValueError, match=rf'iou_thr must be in \[0, 1\), got {iou_thr}'):
        segment_f1(preds, gts, iou_thr=iou_thr)


def test_disjoint_and_touching_segments_never_match():
    preds = {'v': [(0, 20, 30, 0.5), (0, 10, 20, 0.5)]}
    assert segment_f1(preds, {'v': [(0, 0, 10)]}, iou_thr=0)['tp'] == 0


def test_starter_kit_credits_one_prediction_to_two_gts():
    # GTs [0, 10] and [1, 9]; one pred [0, 10].
    # tIoU with GT0 = 10/10 = 1; with GT1 = (9 - 1) / (10 - 0) = 0.8. Both > 0.3.
    # Start kit: the prediction is not consumed, so TP = 2 with 1 prediction:
    # P = 2/1 = 2 (not clipped, as the start kit computes it), R = 2/2 = 1,
    # F1 = 2 * 2 * 1 / (2 + 1) = 4/3.
    preds, gts = {'v': [(1, 0, 10, 0.9)]}, {'v': [(1, 0, 10), (1, 1, 9)]}
    result = segment_f1(preds, gts, match='starter-kit')
    assert summary(result) == pytest.approx((2.0, 1.0, 4 / 3, 2, 1, 2))
    # One-to-one: the prediction takes GT0 only: P = 1, R = 1/2, F1 = 2/3.
    result = segment_f1(preds, gts, match='one-to-one')
    assert summary(result) == pytest.approx((1.0, 0.5, 2 / 3, 1, 1, 2))


def test_starter_kit_counts_each_gt_once():
    # Two preds [0, 10] and [1, 10] both match GT [0, 10] (tIoU 1 and 0.9).
    # TP = 1 (the GT counts once), P = 1/2, R = 1, F1 = 2 * 0.5 / 1.5 = 2/3.
    preds = {'v': [(3, 0, 10, 0.9), (3, 1, 10, 0.8)]}
    for match in ('starter-kit', 'one-to-one'):
        result = segment_f1(preds, {'v': [(3, 0, 10)]}, match=match)
        assert summary(result) == pytest.approx((0.5, 1.0, 2 / 3, 1, 2, 1))


def test_one_to_one_takes_the_highest_tiou_gt():
    # GTs A = [0, 10], B = [4, 14]; label 0 everywhere.
    # q = [3, 13] score 0.9: tIoU(A) = (10 - 3) / (13 - 0) = 0.538,
    #                        tIoU(B) = (13 - 4) / (14 - 3) = 0.818 -> q takes B.
    # r = [0, 7] score 0.5:  tIoU(A) = 7/10 = 0.7, tIoU(B) = (7 - 4) / 14 = 0.214 -> r takes A.
    # TP = 2, P = R = F1 = 1. Had q taken the first GT above 0.3 (A), r would miss: TP = 1.
    preds = {'v': [(0, 3, 13, 0.9), (0, 0, 7, 0.5)]}
    result = segment_f1(preds, {'v': [(0, 0, 10), (0, 4, 14)]}, match='one-to-one')
    assert summary(result) == (1.0, 1.0, 1.0, 2, 2, 2)


def test_one_to_one_visits_predictions_by_descending_score():
    # GTs A = [0, 10], B = [6, 20]; label 5 everywhere.
    # q = [0, 16]: tIoU(A) = 10/16 = 0.625, tIoU(B) = (16 - 6) / 20 = 0.5.
    # r = [0, 9]:  tIoU(A) = 0.9,           tIoU(B) = (9 - 6) / 20 = 0.15.
    gts = {'v': [(5, 0, 10), (5, 6, 20)]}
    # q first (0.9 > 0.5): q takes A (0.625 > 0.5); r finds only B at 0.15 -> FP.
    # TP = 1, P = R = F1 = 1/2.
    preds = {'v': [(5, 0, 16, 0.9), (5, 0, 9, 0.5)]}
    assert summary(segment_f1(preds, gts, match='one-to-one')) == (0.5, 0.5, 0.5, 1, 2, 2)
    # r first: r takes A, then q takes B (0.5 > 0.3). TP = 2, P = R = F1 = 1.
    preds = {'v': [(5, 0, 16, 0.5), (5, 0, 9, 0.9)]}
    assert summary(segment_f1(preds, gts, match='one-to-one')) == (1.0, 1.0, 1.0, 2, 2, 2)
    # Start kit ignores scores: A is hit (by both), B by q (0.5) -> TP = 2 either way.
    assert summary(segment_f1(preds, gts, match='starter-kit')) == (1.0, 1.0, 1.0, 2, 2, 2)


def test_one_to_one_matched_gt_is_not_reused():
    # One GT [0, 10]; p_high = [0, 6] score 0.9 (tIoU 0.6) takes it,
    # p_low = [0, 10] score 0.1 (tIoU 1) finds it taken -> FP.
    # TP = 1, P = 1/2, R = 1, F1 = 2/3.
    preds = {'v': [(0, 0, 10, 0.1), (0, 0, 6, 0.9)]}
    result = segment_f1(preds, {'v': [(0, 0, 10)]}, match='one-to-one')
    assert summary(result) == pytest.approx((0.5, 1.0, 2 / 3, 1, 2, 1))


def test_micro_average_over_videos_and_per_class():
    # Video a: GT (0,[0,10]), (1,[20,30]); preds (0,[0,10]) hit, (1,[40,50]) miss (disjoint).
    # Video b: GT (1,[0,10]); preds (1,[2,10]) hit (tIoU 0.8), (0,[0,10]) FP (label).
    # Totals: TP = 2, preds = 4, GT = 3 -> P = 0.5, R = 2/3, F1 = 2 * (1/3) / (7/6) = 4/7.
    # Class 0: TP 1, preds 2, GT 1 -> P 0.5, R 1, F1 2/3.
    # Class 1: TP 1, preds 2, GT 2 -> P 0.5, R 0.5, F1 0.5.
    preds = {
        'a': [(0, 0, 10, 0.9), (1, 40, 50, 0.8)],
        'b': [(1, 2, 10, 0.7), (0, 0, 10, 0.6)],
    }
    gts = {'a': [(0, 0, 10), (1, 20, 30)], 'b': [(1, 0, 10)]}
    for match in ('starter-kit', 'one-to-one'):
        result = segment_f1(preds, gts, match=match)
        assert summary(result) == pytest.approx((0.5, 2 / 3, 4 / 7, 2, 4, 3))
        assert list(result['per_class']) == [0, 1]
        assert summary(result['per_class'][0]) == pytest.approx((0.5, 1.0, 2 / 3, 1, 2, 1))
        assert summary(result['per_class'][1]) == pytest.approx((0.5, 0.5, 0.5, 1, 2, 2))


def test_predictions_do_not_match_across_videos():
    # Same label and segment but in different videos: no match. a's GT missed, b's pred FP
    # (b has an empty GT list, so no warning).
    result = segment_f1({'a': [], 'b': [(0, 0, 10, 1.0)]}, {'a': [(0, 0, 10)], 'b': []})
    assert summary(result) == (0.0, 0.0, 0.0, 0, 1, 1)


def test_no_predictions():
    # GT present, nothing predicted: P = 0 (not NaN), R = 0, F1 = 0.
    result = segment_f1({}, {'v': [(0, 0, 10), (1, 5, 9)]})
    assert summary(result) == (0.0, 0.0, 0.0, 0, 0, 2)
    assert summary(result['per_class'][1]) == (0.0, 0.0, 0.0, 0, 0, 1)


def test_no_ground_truth_and_empty_videos():
    result = segment_f1({'v': [(0, 0, 10, 0.5)]}, {'v': []})
    assert summary(result) == (0.0, 0.0, 0.0, 0, 1, 0)
    result = segment_f1({'v': []}, {'v': []})
    assert summary(result) == (0.0, 0.0, 0.0, 0, 0, 0)
    assert result['per_class'] == {}
    result = segment_f1({}, {})
    assert all(not math.isnan(result[k]) for k in KEYS)


def test_video_without_ground_truth_counts_as_false_positives_with_warning():
    # 'x' and 'y' are absent from the GT: their 3 predictions are FPs.
    # Video v: 1 hit. TP = 1, preds = 4, GT = 1 -> P = 1/4, R = 1, F1 = 0.5 / 1.25 = 0.4.
    preds = {
        'v': [(0, 0, 10, 0.9)],
        'y': [(0, 0, 10, 0.9)],
        'x': [(0, 0, 10, 0.9), (1, 0, 5, 0.3)],
    }
    with pytest.warns(UserWarning, match=r'2 video\(s\) without ground truth.*: x, y'):
        result = segment_f1(preds, {'v': [(0, 0, 10)]})
    assert summary(result) == pytest.approx((0.25, 1.0, 0.4, 1, 4, 1))


def test_no_warning_when_every_video_has_ground_truth():
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        segment_f1({'v': [(0, 0, 10, 0.9)]}, {'v': [(0, 0, 10)], 'w': [(0, 0, 4)]})


def test_accepts_numpy_and_torch_scalars():
    preds = {'v': [(np.int64(2), np.float32(0), torch.tensor(10.0).item(), np.float64(0.5))]}
    assert segment_f1(preds, {'v': [(2, 0, 10)]})['tp'] == 1


def test_invalid_input_errors_name_video_and_index():
    with pytest.raises(ValueError, match=r"predictions\['v'\]\[1\] must have 4 fields"):
        segment_f1({'v': [(0, 0, 10, 0.5), (0, 0, 10)]}, {'v': []})
    with pytest.raises(ValueError, match=r"ground_truths\['w'\]\[0\] must have 3 fields"):
        segment_f1({}, {'w': [(0, 0, 10, 0.5)]})
    with pytest.raises(ValueError, match=r"predictions\['v'\]\[0\] has end_frame 2.0 before"):
        segment_f1({'v': [(0, 5, 2, 0.5)]}, {})
    with pytest.raises(TypeError, match=r"predictions\['v'\]\[0\] label must be an integer"):
        segment_f1({'v': [(1.0, 0, 2, 0.5)]}, {})
    with pytest.raises(ValueError, match=r"predictions\['v'\]\[0\] score must be finite"):
        segment_f1({'v': [(1, 0, 2, float('nan'))]}, {})
    with pytest.raises(TypeError, match=r"ground_truths\['v'\] must be a list"):
        segment_f1({}, {'v': 7})
    with pytest.raises(TypeError, match='predictions must be a dict'):
        segment_f1([(0, 0, 10, 0.5)], {})
    with pytest.raises(ValueError, match="match must be one of .*got 'coco'"):
        segment_f1({}, {}, match='coco')
