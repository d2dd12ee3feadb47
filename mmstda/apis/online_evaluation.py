"""Score the online system itself: every test video streamed through OnlineRecognizer.

The windowed evaluation (``tools/test.py``) scores overlapping offline windows that
each start from an empty cache; this module scores what a live user gets. Each test
video runs from its first frame to its last through :class:`OnlineRecognizer`, and
the emitted segments go to the same :class:`MicroGestureF1Metric` (submission CSV,
per-class table, timelines), plus the emission latency.
"""

import time

import numpy as np
import torch
from mmaction.registry import DATASETS, METRICS
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import init_default_scope

from mmstda.structures import segment_iou

from .online_recognizer import OnlineRecognizer, init_online_recognizer


def stream_video(
    recognizer: OnlineRecognizer,
    path: str,
    num_frames: int | None = None,
    chunk_frames: int | None = None,
) -> tuple[list[dict], np.ndarray]:
    """Run a video file through the recognizer from its first frame to its last.

    Frames are decoded by decord ``chunk_frames`` at a time, so memory holds one
    chunk, as with a camera. ``emitted_frame`` counts the frames handed over when a
    segment came out, so a chunk of one clip measures latency exactly.

    Args:
        recognizer (OnlineRecognizer): A recognizer; it is reset first.
        path (str): Video file.
        num_frames (int, optional): Native frames to stream (the annotated length).
            Defaults to None (every frame of the file).
        chunk_frames (int, optional): Frames per :meth:`OnlineRecognizer.process`
            call. Defaults to None: one clip, ``clip_frames * frame_interval``.

    Returns:
        tuple[list[dict], np.ndarray]: The emitted segments (with
        ``emitted_frame``) and the highest class probability of every decoded
        frame.
    """
    import decord

    reader = decord.VideoReader(path, num_threads=1)
    chunk_frames = chunk_frames or recognizer.clip_frames * recognizer.frame_interval
    total = len(reader) if num_frames is None else min(len(reader), int(num_frames))
    recognizer.reset()
    segments, traces = [], []
    for start in range(0, total, chunk_frames):
        indices = list(range(start, min(start + chunk_frames, total)))
        segments += recognizer.process(reader.get_batch(indices).asnumpy())
        traces.append(recognizer.last_frame_scores)
    segments += recognizer.finish()
    traces.append(recognizer.last_frame_scores)
    return segments, np.concatenate(traces)


def emission_latencies(
    segments: list[dict], gt_segments: np.ndarray, gt_labels: np.ndarray, iou_thr: float
) -> list[int]:
    """Native frames from each detected gesture's end to its first matching emission.

    A ground truth is detected when an emitted segment of its label has
    tIoU > ``iou_thr`` with it (the F1 rule); its latency is ``emitted_frame`` of
    the earliest such segment minus the ground truth's end frame.

    Args:
        segments (list[dict]): Emitted segments of one video.
        gt_segments (np.ndarray): ``(M, 2)`` ground truth in native frames.
        gt_labels (np.ndarray): ``(M,)`` 0-based labels.
        iou_thr (float): tIoU a match must exceed.

    Returns:
        list[int]: One latency per detected ground truth.
    """
    if not segments or len(gt_segments) == 0:
        return []
    bounds = torch.tensor(
        [[s['start_frame'], s['end_frame']] for s in segments], dtype=torch.float64
    )
    ious = segment_iou(torch.as_tensor(np.asarray(gt_segments, np.float64)), bounds).numpy()
    labels = np.array([s['label'] for s in segments])
    emitted = np.array([s['emitted_frame'] for s in segments])
    latencies = []
    for (_, gt_end), gt_label, row in zip(gt_segments, gt_labels, ious):
        hits = (row > iou_thr) & (labels == gt_label)
        if hits.any():
            latencies.append(int(emitted[hits].min() - round(float(gt_end))))
    return latencies


def latency_summary(latencies: list[int], fps: float) -> dict:
    """Median and 95th percentile of the latencies, in native frames and seconds."""
    if not latencies:
        nan = float('nan')
        return dict(
            latency_matched=0,
            latency_median_frames=nan,
            latency_p95_frames=nan,
            latency_median_s=nan,
            latency_p95_s=nan,
        )
    median, p95 = (float(np.percentile(latencies, q)) for q in (50, 95))
    return dict(
        latency_matched=len(latencies),
        latency_median_frames=median,
        latency_p95_frames=p95,
        latency_median_s=median / fps,
        latency_p95_s=p95 / fps,
    )


def _f1_metric_cfg(cfg: Config) -> dict:
    evaluators = cfg.test_evaluator
    evaluators = list(evaluators) if isinstance(evaluators, list | tuple) else [evaluators]
    for evaluator in evaluators:
        if str(evaluator.get('type', '')).split('.')[-1] == 'MicroGestureF1Metric':
            return dict(evaluator)
    raise ValueError(
        'online evaluation scores with MicroGestureF1Metric; the config test_evaluator has '
        f'{[e.get("type") for e in evaluators]}'
    )


def evaluate_online(
    cfg: Config,
    checkpoint: str,
    score_thr: float | None,
    device: str = 'cpu',
    chunk_frames: int | None = None,
    **metric_overrides,
) -> dict:
    """Stream every video of the test split and score the emitted segments.

    Args:
        cfg (Config): A config with ``model``, ``test_dataloader.dataset`` (an
            ``SMGDataset``) and a ``MicroGestureF1Metric`` test evaluator.
        checkpoint (str): Checkpoint file.
        score_thr (float, optional): The operating point: the run-opening
            threshold, and segments scoring below it are not emitted (the metric
            keeps the same threshold). None keeps the head's ``test_cfg``.
        device (str): Torch device. Defaults to ``'cpu'``.
        chunk_frames (int, optional): Native frames per ``process`` call.
            Defaults to None: one clip (see :func:`stream_video`).
        **metric_overrides: Extra metric arguments, e.g. ``submission_file``,
            ``table_file``, ``timeline_dir``.

    Returns:
        dict: The metric's keys (``mg/f1``, ...) plus ``mg/latency_matched``,
        ``mg/latency_median_frames``, ``mg/latency_p95_frames``,
        ``mg/latency_median_s``, ``mg/latency_p95_s`` and ``mg/stream_fps``
        (native frames per second of the whole loop, decoding included).
    """
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    classes = list(dataset.metainfo['classes'])
    recognizer = init_online_recognizer(
        cfg, checkpoint, device=device, class_names=classes, score_thr=score_thr
    )
    # The recognizer has already merged (NMS) and filtered; the metric scores that.
    metric_cfg = dict(
        _f1_metric_cfg(cfg),
        score_thr=recognizer.score_thr,
        merge_iou_thr=None,
        window_ownership=False,
        **metric_overrides,
    )
    metric = METRICS.build(metric_cfg)
    metric.dataset_meta = dataset.metainfo
    latencies, fps_values, num_frames, seconds = [], [], 0, 0.0
    for video in dataset.videos:
        started = time.perf_counter()
        segments, trace = stream_video(
            recognizer, video['filename'], video['total_frames'], chunk_frames
        )
        seconds += time.perf_counter() - started
        num_frames += int(video['total_frames'])
        fps_values.append(float(video.get('fps') or 28.0))
        latencies += emission_latencies(
            segments, video['video_gt_segments'], video['video_gt_labels'], metric.iou_thr
        )
        metric.process(
            None,
            [
                dict(
                    video_id=video['video_id'],
                    total_frames=video['total_frames'],
                    frame_interval=recognizer.frame_interval,
                    video_gt_segments=video['video_gt_segments'],
                    video_gt_labels=video['video_gt_labels'],
                    pred_instances=dict(
                        segments=np.array(
                            [[s['start_frame'], s['end_frame']] for s in segments], np.float64
                        ).reshape(-1, 2),
                        labels=np.array([s['label'] for s in segments], np.int64),
                        scores=np.array([s['score'] for s in segments], np.float64),
                    ),
                    pred_frame_scores=trace,
                )
            ],
        )
    metrics = metric.evaluate(len(dataset.videos))
    prefix = f'{metric.prefix}/' if metric.prefix else ''
    summary = latency_summary(latencies, float(np.median(fps_values)))
    metrics.update({prefix + key: value for key, value in summary.items()})
    metrics[prefix + 'stream_fps'] = num_frames / max(seconds, 1e-9)
    print_log(
        f'Online: {len(dataset.videos)} videos streamed through OnlineRecognizer '
        f'(clip {recognizer.clip_frames} x frame_interval {recognizer.frame_interval}); '
        f'F1 {metrics[prefix + "f1"]:.4f}; emission latency over '
        f'{summary["latency_matched"]} detected gestures: median '
        f'{summary["latency_median_frames"]:.0f} frames ({summary["latency_median_s"]:.2f} s), '
        f'p95 {summary["latency_p95_frames"]:.0f} frames ({summary["latency_p95_s"]:.2f} s); '
        f'{metrics[prefix + "stream_fps"]:.1f} native fps',
        logger='current',
    )
    return metrics
