"""End-to-end tests of ``MicroGestureF1Metric`` through mmengine's ``Evaluator``."""

import csv

import numpy as np
import pytest
import torch
from mmaction.registry import METRICS
from mmaction.structures import ActionDataSample
from mmengine.evaluator import Evaluator
from mmengine.structures import InstanceData
from PIL import Image

import mmstda.evaluation.metrics.micro_gesture_f1_metric as metric_module
from mmstda.evaluation.metrics import MicroGestureF1Metric

CLASSES = ('turtling neck and shoulder', 'rubbing eyes and forehead', 'folding arms')

# Video Sample0031, whole-video GT (absolute native frames, 0-based labels):
#   G0 = (0, [10, 40]), G1 = (1, [100, 150]), G2 = (2, [300, 330]).
GT_SEGMENTS = np.array([[10, 40], [100, 150], [300, 330]], dtype=np.float32)
GT_LABELS = np.array([0, 1, 2], dtype=np.int64)


def window(video_id, window_start_frame, preds, gt_segments=GT_SEGMENTS, gt_labels=GT_LABELS):
    """A packed data sample with ``preds = [(label, start, end, score), ...]``."""
    sample = ActionDataSample()
    sample.set_metainfo(
        dict(
            video_id=video_id,
            window_start_frame=window_start_frame,
            video_gt_segments=gt_segments,
            video_gt_labels=gt_labels,
        )
    )
    rows = np.array(preds, dtype=np.float64).reshape(-1, 4)
    sample.pred_instances = InstanceData(
        segments=torch.tensor(rows[:, 1:3], dtype=torch.float32),
        labels=torch.tensor(rows[:, 0], dtype=torch.long),
        scores=torch.tensor(rows[:, 3], dtype=torch.float32),
    )
    return sample


def overlapping_windows():
    """Two overlapping windows of one video.

    Window at frame 0 predicts:
      a = (0, [12.4, 40], 0.9): tIoU(G0) = 27.6 / 30 = 0.92 -> hit.
      b = (1, [100, 140], 0.8): tIoU(G1) = 40 / 50 = 0.8 -> hit.
    Window at frame 100 predicts:
      c = (1, [102, 150], 0.7): the same gesture as b seen again; tIoU(b, c) =
          (140 - 102) / (150 - 100) = 0.76 > 0.5, lower score -> merged away.
      d = (0, [100, 140], 0.6): same span as b but another class, so it is kept
          (class-aware merging); a false positive.
      e = (2, [250, 260], 0.4): disjoint from G2 (negative tIoU) -> false positive.
    """
    return [
        window('Sample0031', 0, [(0, 12.4, 40, 0.9), (1, 100, 140, 0.8)]),
        window('Sample0031', 100, [(1, 102, 150, 0.7), (0, 100, 140, 0.6), (2, 250, 260, 0.4)]),
    ]


def evaluate(samples, classes=CLASSES, **kwargs):
    evaluator = Evaluator(MicroGestureF1Metric(**kwargs))
    if classes is not None:
        evaluator.dataset_meta = dict(classes=classes)
    evaluator.process(samples)
    return evaluator.evaluate(len(samples))


def test_registered_in_mmaction_metrics():
    metric = METRICS.build(dict(type='MicroGestureF1Metric', iou_thr=0.5))
    assert isinstance(metric, MicroGestureF1Metric)
    assert metric.iou_thr == 0.5
    assert metric.prefix == 'mg'


def test_overlapping_windows_are_merged_and_scored_once():
    # After merging: a, b, d, e (4 predictions); GT counted once: 3.
    # TP = 2 (G0 by a, G1 by b) -> P = 1/2, R = 2/3, F1 = 2 * (1/3) / (7/6) = 4/7.
    # Per class: 0: preds a, d; GT G0; TP 1 -> P 1/2, R 1, F1 2/3.
    #            1: pred b; GT G1; TP 1 -> F1 1.   2: pred e; GT G2; TP 0 -> F1 0.
    metrics = evaluate(overlapping_windows())
    assert metrics['mg/tp'] == 2
    assert metrics['mg/num_pred'] == 4
    assert metrics['mg/num_gt'] == 3
    assert metrics['mg/precision'] == pytest.approx(0.5)
    assert metrics['mg/recall'] == pytest.approx(2 / 3)
    assert metrics['mg/f1'] == pytest.approx(4 / 7)
    assert metrics['mg/f1_turtling_neck_and_shoulder'] == pytest.approx(2 / 3)
    assert metrics['mg/f1_rubbing_eyes_and_forehead'] == pytest.approx(1.0)
    assert metrics['mg/f1_folding_arms'] == 0.0


def test_merging_off_keeps_duplicates():
    # All 5 predictions kept; TP still 2 (G1 counts once though b and c both hit it).
    # P = 2/5, R = 2/3, F1 = 2 * (4/15) / (16/15) = 1/2.
    metrics = evaluate(overlapping_windows(), merge_iou_thr=None)
    assert (metrics['mg/tp'], metrics['mg/num_pred'], metrics['mg/num_gt']) == (2, 5, 3)
    assert metrics['mg/f1'] == pytest.approx(0.5)


def test_merge_iou_thr_is_configurable():
    # tIoU(b, c) = 0.76 is not above 0.8, so c survives: 5 predictions, F1 = 1/2.
    metrics = evaluate(overlapping_windows(), merge_iou_thr=0.8)
    assert metrics['mg/num_pred'] == 5
    assert metrics['mg/f1'] == pytest.approx(0.5)


def test_score_thr_and_sweep():
    # On the merged predictions a .9, b .8, d .6, e .4 (TP-carrying: a, b):
    #   thr 0.00: 4 preds, TP 2 -> P 1/2, R 2/3, F1 4/7 = 0.571
    #   thr 0.50: a, b, d -> P 2/3, R 2/3, F1 2/3
    #   thr 0.65: a, b -> P 1, R 2/3, F1 0.8   <- best
    #   thr 0.85: a -> P 1, R 1/3, F1 1/2
    metrics = evaluate(overlapping_windows(), sweep_thresholds=[0.85, 0.0, 0.65, 0.5])
    assert metrics['mg/best_score_thr'] == 0.65
    assert metrics['mg/best_f1'] == pytest.approx(0.8)
    # The headline numbers still use score_thr (0 by default), not the sweep's best.
    assert metrics['mg/f1'] == pytest.approx(4 / 7)
    metrics = evaluate(overlapping_windows(), score_thr=0.5)
    assert metrics['mg/num_pred'] == 3
    assert metrics['mg/f1'] == pytest.approx(2 / 3)


def test_sweep_ties_go_to_the_lowest_threshold():
    # Thresholds 0.65 and 0.7 keep the same predictions (a, b) -> same F1 0.8.
    metrics = evaluate(overlapping_windows(), sweep_thresholds=[0.7, 0.65])
    assert metrics['mg/best_score_thr'] == 0.65


def test_match_option_is_passed_to_segment_f1():
    # GTs (0, [0, 10]) and (0, [1, 9]); one prediction (0, [0, 10]) with tIoU 1 and 0.8.
    # Start kit: both GTs credited -> TP 2 (P = 2/1 = 2, as the start kit computes).
    # One-to-one: TP 1 -> P 1, R 1/2, F1 2/3.
    gt_segments = np.array([[0, 10], [1, 9]], dtype=np.float32)
    gt_labels = np.array([0, 0])
    samples = [window('v', 0, [(0, 0, 10, 0.9)], gt_segments, gt_labels)]
    assert evaluate(samples, match='starter-kit')['mg/tp'] == 2
    metrics = evaluate(samples, match='one-to-one')
    assert metrics['mg/tp'] == 1
    assert metrics['mg/f1'] == pytest.approx(2 / 3)


def test_windows_of_several_videos_and_no_class_names():
    # Video A: GT (0, [0, 20]), one window predicting it (tIoU 1) -> TP 1.
    # Video B: GT (1, [50, 60]) carried by two windows, no predictions -> 1 miss.
    # TP 1, preds 1, GT 2 -> P 1, R 1/2, F1 2/3. Without class names keys use labels.
    gt_a = (np.array([[0, 20]], dtype=np.float32), np.array([0]))
    gt_b = (np.array([[50, 60]], dtype=np.float32), np.array([1]))
    samples = [
        window('B', 32, [], *gt_b),
        window('A', 0, [(0, 0, 20, 0.5)], *gt_a),
        window('B', 0, [], *gt_b),
    ]
    metrics = evaluate(samples, classes=None)
    assert (metrics['mg/tp'], metrics['mg/num_pred'], metrics['mg/num_gt']) == (1, 1, 2)
    assert metrics['mg/f1'] == pytest.approx(2 / 3)
    assert metrics['mg/f1_class0'] == pytest.approx(1.0)
    assert metrics['mg/f1_class1'] == 0.0


def test_empty_results_give_zeros():
    # A video with no GT and no predictions: every number defined, no NaN.
    empty_gt = (np.zeros((0, 2), dtype=np.float32), np.zeros(0, dtype=np.int64))
    metrics = evaluate([window('v', 0, [], *empty_gt)])
    assert metrics['mg/f1'] == 0.0
    assert metrics['mg/num_gt'] == 0
    assert metrics['mg/f1_folding_arms'] == 0.0


def test_windows_disagreeing_on_video_gt_raise():
    other_gt = GT_SEGMENTS.copy()
    other_gt[0, 0] = 11
    samples = [window('Sample0031', 0, []), window('Sample0031', 100, [], other_gt)]
    with pytest.raises(ValueError, match=r"'Sample0031'.*window_start_frame 0 and 100"):
        evaluate(samples)


def test_bad_samples_raise_clear_errors():
    sample = window('v', 0, [(0, 0, 10, 0.5)])
    del sample.video_gt_labels
    with pytest.raises(KeyError, match=r"'video_gt_labels' in every data sample of video 'v'"):
        evaluate([sample])
    with pytest.raises(ValueError, match=r"'v' has predicted label 3 outside the 3 dataset"):
        evaluate([window('v', 0, [(3, 0, 10, 0.5)])])
    sample = window('v', 7, [(0, 0, 10, 0.5)])
    sample.pred_instances.scores = torch.zeros(1, 1)
    with pytest.raises(ValueError, match=r"video 'v', window_start_frame 7: labels"):
        evaluate([sample])
    with pytest.raises(ValueError, match='match must be one of'):
        MicroGestureF1Metric(match='coco')
    with pytest.raises(ValueError, match=r'merge_iou_thr must be in \[0, 1\] or None, got 1.5'):
        MicroGestureF1Metric(merge_iou_thr=1.5)
    with pytest.raises(ValueError, match='sweep_thresholds must be a non-empty list'):
        MicroGestureF1Metric(sweep_thresholds=[])


def test_submission_csv_is_one_based_and_thresholded(tmp_path):
    # score_thr 0.5 keeps the merged a, b, d in time order (b before d: equal spans keep
    # score order). Labels + 1; 12.4 rounds to frame 12.
    path = tmp_path / 'out' / 'submission.csv'
    evaluate(overlapping_windows(), score_thr=0.5, submission_file=str(path))
    assert path.read_text().splitlines() == [
        'video_id,label,start_frame,end_frame,score',
        'Sample0031,1,12,40,0.900000',
        'Sample0031,2,100,140,0.800000',
        'Sample0031,1,100,140,0.600000',
    ]


def test_per_class_table_is_logged(monkeypatch):
    messages = []
    monkeypatch.setattr(metric_module, 'print_log', lambda msg, **kwargs: messages.append(msg))
    evaluate(overlapping_windows(), sweep_thresholds=[0.0, 0.65])
    table = messages[0].splitlines()
    assert table[1].split(' | ')[0].strip() == 'label'
    row = [cell.strip() for cell in table[4].split(' | ')]
    # label, class, num_gt, num_pred, tp, precision, recall, f1 for class 1 (b hits G1).
    assert row == ['1', 'rubbing eyes and forehead', '1', '1', '1', '1.0000', '1.0000', '1.0000']
    assert 'best score_thr=0.65 with f1=0.8000' in messages[1]


# The per-class table file and the timeline figures.
def _evaluate(metric, samples):
    evaluator = Evaluator(metric)
    evaluator.dataset_meta = dict(classes=CLASSES)
    evaluator.process(samples)
    return evaluator.evaluate(len(samples))


def test_table_file_holds_per_class_and_overall_rows(tmp_path):
    table = tmp_path / 'out' / 'per_class_f1.csv'
    metrics = _evaluate(MicroGestureF1Metric(table_file=str(table)), overlapping_windows())
    rows = list(csv.reader(open(table)))
    assert rows[0] == ['label', 'class', 'num_gt', 'num_pred', 'tp', 'precision', 'recall', 'f1']
    assert [row[1] for row in rows[1:4]] == list(CLASSES)
    # After merging: a, b hit (classes 0 and 1), d and e are false positives, G2 missed.
    overall = rows[-1]
    assert overall[0] == 'all' and overall[2:5] == ['3', '4', '2']
    # Scores are rounded to 4 decimals, as in the printed table (P 0.5, R 2/3).
    assert overall[5:] == ['0.5', '0.6667', '0.5714'] and metrics['mg/f1'] != 0.5714
    assert float(overall[7]) == round(metrics['mg/f1'], 4)
    assert np.isclose(float(rows[2][7]), metrics['mg/f1_rubbing_eyes_and_forehead'])


def test_timeline_dir_gets_one_png_per_video_with_score_trace(tmp_path):
    samples = overlapping_windows()
    for sample in samples:
        sample.set_metainfo(dict(frame_interval=2, total_frames=400))
        sample.set_field(torch.linspace(0, 1, 64), 'pred_frame_scores')
    _evaluate(MicroGestureF1Metric(timeline_dir=str(tmp_path / 'timelines')), samples)
    image = Image.open(tmp_path / 'timelines' / 'Sample0031.png')
    assert image.size[0] > 500 and image.size[1] > 150
    assert list((tmp_path / 'timelines').iterdir()) == [tmp_path / 'timelines' / 'Sample0031.png']


def _with_window_geometry(samples, window_frames=64, frame_interval=2):
    for sample in samples:
        sample.set_metainfo(dict(window_frames=window_frames, frame_interval=frame_interval))
    return samples


def test_window_ownership_drops_a_fragment_the_closer_window_sees_whole():
    # Two windows of 64 frames at interval 2 (128 native frames), half overlapping:
    # [0, 128) centred at 64 and [64, 192) centred at 128. GT G1 = (1, [100, 150]).
    # The first window sees G1 cut at its edge and predicts the fragment [120, 128]
    # (centre 124, closer to 128); the second window sees it whole, [100, 150].
    # tIoU(fragment, whole) = 8 / 50 = 0.16: NMS cannot merge them.
    samples = _with_window_geometry(
        [
            window('Sample0031', 0, [(1, 120, 128, 0.9), (0, 12, 40, 0.8)]),
            window('Sample0031', 64, [(1, 100, 150, 0.7)]),
        ]
    )
    owned = _evaluate(MicroGestureF1Metric(), samples)
    # Kept: (0, [12, 40]) -> G0 hit; (1, [100, 150]) -> G1 hit. G2 missed.
    assert (owned['mg/tp'], owned['mg/num_pred']) == (2, 2)
    everything = _evaluate(MicroGestureF1Metric(window_ownership=False), samples)
    assert (everything['mg/tp'], everything['mg/num_pred']) == (2, 3)


def test_window_ownership_keeps_a_prediction_no_closer_window_repeats():
    # stda_smg geometry: 64-frame windows at interval 1, stride 32. GT [40, 70].
    # Window 0 (centre 32) predicts [40, 64] (tIoU 0.8); window 32 (centre 64, closer
    # to the prediction's centre 52) predicts nothing there, or another class.
    gt = dict(gt_segments=np.array([[40, 70]], np.float32), gt_labels=np.array([1]))
    for other_window in ([], [(2, 40, 66, 0.5)]):
        samples = _with_window_geometry(
            [
                window('Sample0001', 0, [(1, 40, 64, 0.9)], **gt),
                window('Sample0001', 32, other_window, **gt),
            ],
            frame_interval=1,
        )
        metrics = _evaluate(MicroGestureF1Metric(), samples)
        assert metrics['mg/tp'] == 1
        assert metrics['mg/f1_rubbing_eyes_and_forehead'] == pytest.approx(1.0)


def _low_score_claimant():
    """The reproduction from the evaluation issue: GT G1 = (1, [80, 131]); two 64-frame
    windows at interval 2, [0, 128) centred at 64 and [64, 192) centred at 128.
    Window 0 predicts [80, 128] at 0.8 (centre 104, tIoU 48 / 51 = 0.94 -> a hit);
    window 64, centred closer to it, has a leftover same-class candidate [100, 110] at 0.01.
    """
    gt = dict(gt_segments=np.array([[80, 131]], np.float32), gt_labels=np.array([1]))
    return _with_window_geometry(
        [
            window('Sample0031', 0, [(1, 80, 128, 0.8)], **gt),
            window('Sample0031', 64, [(1, 100, 110, 0.01)], **gt),
        ]
    )


def test_ownership_is_decided_after_the_score_threshold():
    # At score_thr 0.2 the 0.01 candidate is gone before ownership is decided, so it
    # cannot claim the gesture: TP 1 of 1 prediction (the old order gave TP 0).
    metrics = _evaluate(MicroGestureF1Metric(score_thr=0.2), _low_score_claimant())
    assert (metrics['mg/tp'], metrics['mg/num_pred'], metrics['mg/f1']) == (1, 1, 1.0)


def test_ownership_follows_each_swept_threshold_and_the_submission(tmp_path):
    # Swept at 0.0 the 0.01 candidate is in force: it owns the gesture, and the kept
    # [100, 110] has tIoU 10 / 51 -> TP 0. At 0.2 the 0.8 hit is kept: F1 1.
    path = tmp_path / 'submission.csv'
    metric = MicroGestureF1Metric(
        score_thr=0.2, sweep_thresholds=[0.0, 0.2], submission_file=str(path)
    )
    metrics = _evaluate(metric, _low_score_claimant())
    assert (metrics['mg/best_score_thr'], metrics['mg/best_f1']) == (0.2, 1.0)
    assert path.read_text().splitlines()[1:] == ['Sample0031,2,80,128,0.800000']


def test_sweep_scores_the_segments_decoded_at_each_threshold(monkeypatch):
    # A head that re-decodes per threshold hands the metric pred_sweep: at 0.5 its
    # runs split differently, so the metric must score those segments, not filter the
    # base ones. Base (and sweep 0.3): (1, [100, 150], 0.6) -> hits G1.
    # Sweep 0.5: (1, [100, 118], 0.7) -> tIoU 18 / 50, no hit (filtering the base
    # prediction at 0.5 would have kept the hit).
    sample = window('Sample0031', 0, [(1, 100, 150, 0.6)])
    at_05 = InstanceData(
        segments=torch.tensor([[100.0, 118.0]]),
        labels=torch.tensor([1]),
        scores=torch.tensor([0.7]),
    )
    sample.set_field({0.3: sample.pred_instances.clone(), 0.5: at_05}, 'pred_sweep')
    messages = []
    monkeypatch.setattr(metric_module, 'print_log', lambda msg, **kwargs: messages.append(msg))
    metrics = evaluate([sample], sweep_thresholds=[0.3, 0.5])
    assert metrics['mg/best_score_thr'] == 0.3
    assert metrics['mg/best_f1'] == pytest.approx(2 * (1 * 1 / 3) / (1 + 1 / 3))
    assert "the head's run-opening threshold" in messages[-1]


def test_sweep_flags_thresholds_that_change_nothing(monkeypatch):
    messages = []
    monkeypatch.setattr(metric_module, 'print_log', lambda msg, **kwargs: messages.append(msg))
    # 0.65 and 0.7 keep the same merged predictions (a, b); 0.85 keeps only a.
    evaluate(overlapping_windows(), sweep_thresholds=[0.65, 0.7, 0.85])
    rows = [line.rstrip() for line in messages[-1].splitlines()[3:]]
    assert [row.endswith('same as above') for row in rows] == [False, True, False]
    assert 'the kept-score threshold on segment scores' in messages[-1]
