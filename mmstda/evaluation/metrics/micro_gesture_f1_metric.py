"""Runner-facing F1 metric for online micro-gesture recognition on long videos."""

import csv
import os.path as osp
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from mmaction.registry import METRICS
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmengine.utils import mkdir_or_exist

from mmstda.structures import batched_nms_1d
from mmstda.visualization import draw_timeline

from ..functional.segment_f1 import MATCH_MODES, segment_f1


def _get(sample: Any, key: str, video_id: Any = None) -> Any:
    """Reads ``key`` from a data sample given as a dict or a data element."""
    # Both dicts and mmengine data elements support ``in`` and ``get``.
    if key not in sample:
        where = '' if video_id is None else f' of video {video_id!r}'
        raise KeyError(
            f'MicroGestureF1Metric needs {key!r} in every data sample{where}; the dataset '
            'must provide video_id, video_gt_segments, video_gt_labels and the model '
            'pred_instances (segments, labels, scores)'
        )
    return sample.get(key)


def _as_numpy(value: Any, dtype: type) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=dtype)


def _window_center(sample: Any) -> float | None:
    """Centre of a window in native frames, None without the window's size."""
    start, frames = sample.get('window_start_frame'), sample.get('window_frames')
    if start is None or frames is None:
        return None
    return float(start) + int(frames) * int(sample.get('frame_interval', 1)) / 2


def _keep_owned_predictions(windows: list[dict]) -> list[dict]:
    """Drop a window's prediction when a window centred closer to it predicted the same
    gesture (same label, overlapping in time); a window that missed it drops nothing.

    Run on the predictions that survive the threshold in force: a leftover
    candidate below it must never claim a gesture from a kept prediction.
    Returns new window dicts; the inputs are not modified.
    """
    if len(windows) < 2 or any(w['window_center'] is None for w in windows):
        return windows
    centers = np.array([w['window_center'] for w in windows], dtype=np.float64)
    owned_windows = []
    for index, window in enumerate(windows):
        owned = np.ones(len(window['scores']), dtype=bool)
        for row, ((start, end), label) in enumerate(zip(window['segments'], window['labels'])):
            distance = np.abs((start + end) / 2 - centers)
            # Ties (a prediction exactly between two centres) stay with the window.
            for other in np.flatnonzero(distance < distance[index]):
                same = windows[other]['labels'] == label
                bounds = windows[other]['segments'][same]
                overlap = np.minimum(bounds[:, 1], end) - np.maximum(bounds[:, 0], start)
                if (overlap > 0).any():
                    owned[row] = False
                    break
        owned_windows.append(
            {**window, **{key: window[key][owned] for key in ('segments', 'labels', 'scores')}}
        )
    return owned_windows


def _predictions_at(window: dict, score_thr: float) -> dict:
    """A window's predictions at ``score_thr``: the segments the head decoded at that
    threshold when it re-decodes per threshold (``pred_sweep``), else its predictions;
    either way only those scoring at least ``score_thr``."""
    source = window.get('sweep', {}).get(score_thr, window)
    keep = source['scores'] >= score_thr
    return {
        **window,
        **{key: source[key][keep] for key in ('segments', 'labels', 'scores')},
    }


def _slug(name: str) -> str:
    return re.sub(r'[^0-9a-z]+', '_', name.lower()).strip('_')


def _text_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Aligned plain-text table; plain text so it reads the same in any log sink."""
    cells = [list(map(str, header))] + [
        [f'{v:.4f}' if isinstance(v, float) else str(v) for v in row] for row in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [' | '.join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    lines.insert(1, '-+-'.join('-' * w for w in widths))
    return '\n'.join(lines)


@METRICS.register_module()
class MicroGestureF1Metric(BaseMetric):
    """Segment F1 of micro-gesture predictions over whole videos (SMG protocol).

    The model is evaluated on windows of long videos. ``process`` only collects,
    per window, the predictions (absolute native frames) and the video's full
    ground truth. ``compute_metrics`` then, per video and for the threshold in
    force (``score_thr``, and each of ``sweep_thresholds`` in turn):

    1. keeps each window's predictions with ``score >= thr``; a head that
       re-decodes per threshold (``pred_sweep``, see
       ``OnlineMGDetector.set_score_thr_sweep``) hands the segments it decoded
       at ``thr`` instead;
    2. applies window ownership (``window_ownership``) among those survivors,
       so a candidate below the threshold never claims a gesture;
    3. concatenates the windows and, unless ``merge_iou_thr`` is None, merges
       duplicates from overlapping windows with class-aware 1D NMS;
    4. takes the video's ground truth once (every window carries a copy, so a
       video split over several ranks is never double-counted) and raises if
       two windows disagree;
    5. scores everything with :func:`mmstda.evaluation.segment_f1`.

    The submission CSV, the per-class table and the timelines hold exactly the
    predictions scored at ``score_thr``.

    Reported keys (after the prefix, ``mg/`` by default): ``precision``,
    ``recall``, ``f1``, ``tp``, ``num_pred``, ``num_gt``, one ``f1_<class>``
    per class (the class name in lower-case snake case when
    ``dataset_meta['classes']`` is set, else ``f1_class<label>`` with the
    0-based model label), and with ``sweep_thresholds`` also
    ``best_score_thr`` and ``best_f1``. A per-class table (and the sweep) is
    printed through the current logger.

    Required data sample fields (a dict or an ``ActionDataSample``):
    ``video_id``, ``video_gt_segments`` (M, 2) absolute native frames,
    ``video_gt_labels`` (M,) 0-based, and ``pred_instances`` with
    ``segments`` (K, 2) absolute native frames, ``labels`` (K,) 0-based and
    ``scores`` (K,). ``window_start_frame`` is used in error messages when
    present.

    Args:
        iou_thr (float): tIoU a match must strictly exceed. Defaults to 0.3.
        match (str): ``'starter-kit'`` (the SMG start-kit rule) or
            ``'one-to-one'`` (detection-style). See :func:`segment_f1`.
            Defaults to ``'starter-kit'``.
        score_thr (float): Predictions scoring below this are dropped before
            scoring. Choose it on the validation set (see
            ``sweep_thresholds``). Defaults to 0.0.
        merge_iou_thr (float, optional): tIoU above which a same-class
            prediction from an overlapping window is suppressed by a
            higher-scoring one. None turns merging off. Defaults to 0.5.
        sweep_thresholds (Sequence[float], optional): Score thresholds to try;
            the F1-optimal one is reported as ``best_score_thr`` (the lowest
            threshold reaching the best F1). Each threshold is scored as if it
            were ``score_thr`` (steps 1-5); the logged table names what was
            swept and flags a threshold that kept the same segments as the one
            below it. It must be chosen on the
            validation set and then fixed as ``score_thr`` for testing:
            picking it on the test set overstates the score. Defaults to None.
        submission_file (str, optional): Path of a CSV to write the scored
            predictions to, with a header row and columns
            ``video_id,label,start_frame,end_frame,score``. ``label`` is
            1-based like the start kit's ``*_finelabels.csv`` files (model
            label + 1); frames are rounded to the nearest integer native frame.
            Defaults to None.
        window_ownership (bool): After the threshold and before merging, drop a
            window's prediction when another window whose centre is closer to
            the prediction's centre predicted the same gesture (same label,
            overlapping in time) among the predictions kept at that threshold. A
            gesture cut by one window's edge is then scored from the window that
            sees it whole, instead of leaving a fragment that NMS cannot merge (a
            nested fragment has a low tIoU with the whole); a prediction that no
            closer window repeats is always kept. Applies when the samples carry
            ``window_frames`` and ``frame_interval``. Defaults to True.
        table_file (str, optional): Path of a CSV to write the per-class table
            to (label, class, num_gt, num_pred, tp, precision, recall, f1, with
            a final ``all`` row). Defaults to None.
        timeline_dir (str, optional): Folder to draw one timeline PNG per video
            into: ground truth and merged predictions coloured by class, the
            per-frame score trace when the model provides ``pred_frame_scores``,
            and the video's F1 in the title. Defaults to None.
        collect_device (str): Device used to gather results across ranks,
            ``'cpu'`` or ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the metric names. Defaults to None,
            which uses ``'mg'``.
        collect_dir (str, optional): Directory used to gather results across
            ranks when ``collect_device='cpu'``. Defaults to None.
    """

    default_prefix: str | None = 'mg'

    def __init__(
        self,
        iou_thr: float = 0.3,
        match: str = 'starter-kit',
        score_thr: float = 0.0,
        merge_iou_thr: float | None = 0.5,
        sweep_thresholds: Sequence[float] | None = None,
        submission_file: str | None = None,
        window_ownership: bool = True,
        table_file: str | None = None,
        timeline_dir: str | None = None,
        collect_device: str = 'cpu',
        prefix: str | None = None,
        collect_dir: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        if match not in MATCH_MODES:
            raise ValueError(f'match must be one of {MATCH_MODES}, got {match!r}')
        if merge_iou_thr is not None and not 0.0 <= merge_iou_thr <= 1.0:
            raise ValueError(f'merge_iou_thr must be in [0, 1] or None, got {merge_iou_thr}')
        if sweep_thresholds is not None:
            if isinstance(sweep_thresholds, (str, bytes)) or len(sweep_thresholds) == 0:
                raise ValueError(
                    f'sweep_thresholds must be a non-empty list of floats or None, '
                    f'got {sweep_thresholds!r}'
                )
            sweep_thresholds = sorted(float(t) for t in sweep_thresholds)
        self.iou_thr = float(iou_thr)
        self.match = match
        self.score_thr = float(score_thr)
        self.merge_iou_thr = merge_iou_thr
        self.sweep_thresholds = sweep_thresholds
        self.submission_file = submission_file
        self.window_ownership = window_ownership
        self.table_file = table_file
        self.timeline_dir = timeline_dir

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Collects the predictions and video ground truth of each window.

        Args:
            data_batch (Any): The batch from the dataloader (unused).
            data_samples (Sequence[dict]): The model outputs, one per window,
                as dicts (what mmengine's ``Evaluator`` passes) or data
                elements.
        """
        for sample in data_samples:
            video_id = _get(sample, 'video_id')
            window_start_frame = sample.get('window_start_frame')
            where = f'video {video_id!r}, window_start_frame {window_start_frame}'
            pred = self._instances(
                _get(sample, 'pred_instances', video_id), f'pred_instances of {where}', video_id
            )
            gt_segments = _as_numpy(_get(sample, 'video_gt_segments', video_id), np.float64)
            gt_labels = _as_numpy(_get(sample, 'video_gt_labels', video_id), np.int64)
            gt_segments = gt_segments.reshape(-1, 2) if gt_segments.size == 0 else gt_segments
            if gt_segments.ndim != 2 or gt_segments.shape[1] != 2:
                raise ValueError(
                    f'video_gt_segments of {where} must have shape (M, 2), got {gt_segments.shape}'
                )
            if gt_labels.shape != (len(gt_segments),):
                raise ValueError(
                    f'video_gt_labels of {where} must have shape ({len(gt_segments)},), '
                    f'got {gt_labels.shape}'
                )
            sweep = sample.get('pred_sweep')
            result = dict(
                video_id=str(video_id),
                window_start_frame=window_start_frame,
                window_center=_window_center(sample),
                **pred,
                gt_segments=gt_segments,
                gt_labels=gt_labels,
                total_frames=sample.get('total_frames'),
            )
            if sweep is not None:
                result['sweep'] = {
                    float(thr): self._instances(pred_at, f'{where}, pred_sweep[{thr}]', video_id)
                    for thr, pred_at in sweep.items()
                }
            if self.timeline_dir is not None and sample.get('pred_frame_scores') is not None:
                frame_scores = _as_numpy(sample['pred_frame_scores'], np.float64)
                interval = int(sample.get('frame_interval', 1))
                start = float(window_start_frame or 0)
                result['trace'] = (start + interval * np.arange(len(frame_scores)), frame_scores)
            self.results.append(result)

    @staticmethod
    def _instances(pred: Any, what: str, video_id: Any) -> dict:
        """``segments (K, 2)``, ``labels (K,)``, ``scores (K,)`` as numpy, checked."""
        segments = _as_numpy(_get(pred, 'segments', video_id), np.float64)
        labels = _as_numpy(_get(pred, 'labels', video_id), np.int64)
        scores = _as_numpy(_get(pred, 'scores', video_id), np.float64)
        if segments.size == 0:
            segments = segments.reshape(0, 2)
        if segments.ndim != 2 or segments.shape[1] != 2:
            raise ValueError(f'{what}: segments must have shape (K, 2), got {segments.shape}')
        if labels.shape != (len(segments),) or scores.shape != (len(segments),):
            raise ValueError(
                f'{what}: labels {labels.shape} and scores {scores.shape} must both have '
                f'shape ({len(segments)},) like segments'
            )
        return dict(segments=segments, labels=labels, scores=scores)

    def _group_by_video(self, results: list) -> dict[str, dict]:
        """Groups the windows by video, takes its GT once (checking every copy agrees),
        its score trace and its length; predictions stay per window for
        :meth:`_at_threshold`."""
        videos: dict[str, dict] = {}
        for window in results:
            video = videos.get(window['video_id'])
            if video is None:
                videos[window['video_id']] = dict(
                    windows=[window],
                    gt_segments=window['gt_segments'],
                    gt_labels=window['gt_labels'],
                )
                continue
            first = video['windows'][0]
            if not (
                np.array_equal(window['gt_segments'], video['gt_segments'])
                and np.array_equal(window['gt_labels'], video['gt_labels'])
            ):
                raise ValueError(
                    f'video {window["video_id"]!r}: windows at window_start_frame '
                    f'{first["window_start_frame"]} and {window["window_start_frame"]} carry '
                    'different video_gt_segments/video_gt_labels; every window of a video '
                    'must carry the same whole-video ground truth'
                )
            video['windows'].append(window)
        for video in videos.values():
            windows = video['windows']
            traces = [w['trace'] for w in windows if 'trace' in w]
            if traces:
                frames = np.concatenate([frames for frames, _ in traces])
                order = np.argsort(frames, kind='stable')
                video['trace'] = (frames[order], np.concatenate([s for _, s in traces])[order])
            video['total_frames'] = max(
                [int(w['total_frames']) for w in windows if w.get('total_frames') is not None]
                or [0]
            )
        return videos

    def _at_threshold(self, videos: dict[str, dict], score_thr: float) -> dict[str, dict]:
        """Each video's predictions at ``score_thr``: thresholded per window, then
        window ownership among the survivors, then merged across windows."""
        scored = {}
        for video_id, video in videos.items():
            windows = [_predictions_at(w, score_thr) for w in video['windows']]
            if self.window_ownership:
                windows = _keep_owned_predictions(windows)
            merged = {
                key: np.concatenate([w[key] for w in windows])
                for key in ('segments', 'labels', 'scores')
            }
            scored[video_id] = {**video, **merged}
            self._merge_windows(scored[video_id])
        return scored

    def _merge_windows(self, video: dict) -> None:
        """Suppresses duplicates of one gesture from overlapping windows; sorts by time."""
        if self.merge_iou_thr is None or len(video['scores']) == 0:
            keep = np.arange(len(video['scores']))
        else:
            keep = batched_nms_1d(
                torch.from_numpy(video['segments']),
                torch.from_numpy(video['scores']),
                torch.from_numpy(video['labels']),
                self.merge_iou_thr,
            ).numpy()
        # Time order (stable, so equal spans keep score order when merged) makes the
        # output and the CSV read along the video.
        keep = keep[np.lexsort((video['segments'][keep, 1], video['segments'][keep, 0]))]
        for key in ('segments', 'labels', 'scores'):
            video[key] = video[key][keep]

    def _check_labels(self, videos: dict[str, dict], num_classes: int | None) -> None:
        if num_classes is None:
            return
        for video_id, video in videos.items():
            for key in ('labels', 'gt_labels'):
                bad = video[key][(video[key] < 0) | (video[key] >= num_classes)]
                if bad.size:
                    source = 'predicted' if key == 'labels' else 'ground-truth'
                    raise ValueError(
                        f'video {video_id!r} has {source} label {int(bad[0])} outside the '
                        f'{num_classes} dataset classes (labels are 0-based)'
                    )

    def _score(self, videos: dict[str, dict]) -> dict:
        """F1 of predictions already taken at a threshold (see :meth:`_at_threshold`)."""
        predictions = {
            video_id: [
                (int(label), float(start), float(end), float(score))
                for (start, end), label, score in zip(v['segments'], v['labels'], v['scores'])
            ]
            for video_id, v in videos.items()
        }
        ground_truths = {
            video_id: [
                (int(label), float(start), float(end))
                for (start, end), label in zip(v['gt_segments'], v['gt_labels'])
            ]
            for video_id, v in videos.items()
        }
        return segment_f1(predictions, ground_truths, iou_thr=self.iou_thr, match=self.match)

    def compute_metrics(self, results: list) -> dict:
        """Merges windows per video and computes the F1 metrics.

        Args:
            results (list): The per-window dicts collected by ``process``
                from all ranks.

        Returns:
            dict: The metrics described in the class docstring.
        """
        classes = (self.dataset_meta or {}).get('classes')
        num_classes = len(classes) if classes is not None else None
        grouped = self._group_by_video(results)
        videos = self._at_threshold(grouped, self.score_thr)
        self._check_labels(videos, num_classes)

        scores = self._score(videos)
        metrics = {
            key: scores[key] for key in ('precision', 'recall', 'f1', 'tp', 'num_pred', 'num_gt')
        }
        labels = range(num_classes) if num_classes is not None else scores['per_class'].keys()
        empty = dict(precision=0.0, recall=0.0, f1=0.0, tp=0, num_pred=0, num_gt=0)
        rows = []
        for label in labels:
            stats = scores['per_class'].get(label, empty)
            name = str(classes[label]) if classes is not None else f'class{label}'
            key = f'f1_{_slug(name) or f"class{label}"}'
            if key in metrics:
                raise ValueError(f'two classes map to the same metric key {key!r}; rename one')
            metrics[key] = stats['f1']
            rows.append(
                [label, name, stats['num_gt'], stats['num_pred'], stats['tp']]
                + [stats['precision'], stats['recall'], stats['f1']]
            )
        rows.append(
            ['all', f'{len(videos)} videos', scores['num_gt'], scores['num_pred'], scores['tp']]
            + [scores['precision'], scores['recall'], scores['f1']]
        )
        header = ['label', 'class', 'num_gt', 'num_pred', 'tp', 'precision', 'recall', 'f1']
        print_log(
            f'Micro-gesture F1 (tIoU > {self.iou_thr}, match={self.match}, '
            f'score_thr={self.score_thr}):\n{_text_table(header, rows)}',
            logger='current',
        )

        if self.sweep_thresholds is not None:
            metrics.update(self._sweep(grouped))
        if self.submission_file is not None:
            self._dump_submission(videos)
        if self.table_file is not None:
            mkdir_or_exist(osp.dirname(osp.abspath(self.table_file)))
            # Rounded as printed: 0.7, not 0.7000000000000001.
            rounded = [[round(v, 4) if isinstance(v, float) else v for v in row] for row in rows]
            with open(self.table_file, 'w', newline='') as f:
                csv.writer(f).writerows([header, *rounded])
            print_log(f'Wrote the per-class F1 table to {self.table_file}', logger='current')
        if self.timeline_dir is not None:
            self._draw_timelines(videos, classes)
        return metrics

    def _draw_timelines(self, videos: dict[str, dict], classes: Sequence[str] | None) -> None:
        names = list(classes) if classes is not None else []
        for video_id, video in sorted(videos.items()):
            scores = self._score({video_id: video})
            predictions = [
                (int(label), float(start), float(end), float(score))
                for (start, end), label, score in zip(
                    video['segments'], video['labels'], video['scores']
                )
            ]
            ground_truths = [
                (int(label), float(start), float(end))
                for (start, end), label in zip(video['gt_segments'], video['gt_labels'])
            ]
            ends = [end for _, _, end in ground_truths] + [end for _, _, end, _ in predictions]
            draw_timeline(
                osp.join(self.timeline_dir, f'{video_id}.png'),
                predictions,
                names,
                num_frames=int(max([video['total_frames'], *ends, 1])),
                ground_truths=ground_truths,
                score_trace=video.get('trace'),
                title=f'{video_id}: F1 {scores["f1"]:.3f} (P {scores["precision"]:.3f}, '
                f'R {scores["recall"]:.3f}, tIoU > {self.iou_thr})',
            )
        print_log(
            f'Drew {len(videos)} timelines (ground truth, predictions, scores) into '
            f'{self.timeline_dir}',
            logger='current',
        )

    def _sweep(self, grouped: dict[str, dict]) -> dict:
        windows = [w for video in grouped.values() for w in video['windows']]
        redecoded = bool(windows) and all(
            set(self.sweep_thresholds) <= set(w.get('sweep', {})) for w in windows
        )
        knob = (
            "the head's run-opening threshold (each window decoded at every threshold)"
            if redecoded
            else 'the kept-score threshold on segment scores'
        )
        rows, best_thr, best_f1, previous = [], self.sweep_thresholds[0], -1.0, None
        for thr in self.sweep_thresholds:
            videos = self._at_threshold(grouped, thr)
            scores = self._score(videos)
            # A threshold that keeps exactly the segments of the one below it
            # cannot change the output: flagged, so a sweep that controls nothing shows.
            kept = tuple(
                (video_id, tuple(map(tuple, v['segments'])), tuple(v['labels']))
                for video_id, v in sorted(videos.items())
            )
            rows.append(
                [thr, scores['num_pred'], scores['precision'], scores['recall'], scores['f1']]
                + ['same as above' if kept == previous else '']
            )
            previous = kept
            # Strict '>' over ascending thresholds: ties go to the lowest threshold.
            if scores['f1'] > best_f1:
                best_thr, best_f1 = thr, scores['f1']
        header = ['score_thr', 'num_pred', 'precision', 'recall', 'f1', 'output']
        print_log(
            f'Score-threshold sweep of {knob} (choose on validation, never on test); best '
            f'score_thr={best_thr} with f1={best_f1:.4f}:\n{_text_table(header, rows)}',
            logger='current',
        )
        return dict(best_score_thr=best_thr, best_f1=best_f1)

    def _dump_submission(self, videos: dict[str, dict]) -> None:
        mkdir_or_exist(osp.dirname(osp.abspath(self.submission_file)))
        num_rows = 0
        with open(self.submission_file, 'w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(['video_id', 'label', 'start_frame', 'end_frame', 'score'])
            for video_id in sorted(videos):
                v = videos[video_id]
                for (start, end), label, score in zip(v['segments'], v['labels'], v['scores']):
                    writer.writerow(
                        [
                            video_id,
                            int(label) + 1,
                            int(round(start)),
                            int(round(end)),
                            f'{score:.6f}',
                        ]
                    )
                    num_rows += 1
        print_log(
            f'Wrote {num_rows} predictions (1-based labels) to {self.submission_file}',
            logger='current',
        )
