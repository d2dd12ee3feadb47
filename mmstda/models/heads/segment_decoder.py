"""Turn per-frame scores into segments, one frame at a time.

The same decoder serves offline windows and live streams, so a stream gives exactly the
segments the offline model gives on the same frames.
"""

from dataclasses import dataclass

import numpy as np
import torch

from mmstda.structures import batched_nms_1d


@dataclass(frozen=True)
class Segment:
    """A decoded segment in decoder frame indices (sub-sampled frames).

    Attributes:
        start (int): First frame of the segment.
        end (int): One past the last frame (exclusive).
        label (int): 0-based class index.
        score (float): Mean class probability over the segment's frames.
    """

    start: int
    end: int
    label: int
    score: float


class SegmentDecoder:
    """Streaming decoder: class runs, boundary splits, minimum duration, then 1D NMS.

    Per class ``k``, a run is a stretch of frames with ``p[t, k] >= score_thr``. A run is
    split before frame ``t`` when the start-ness at ``t`` reaches ``boundary_thr`` and
    after frame ``t`` when the end-ness at ``t`` does, so back-to-back gestures of one
    class come out as separate segments. Segments shorter than ``min_duration`` frames
    are dropped. NMS runs on groups of overlapping segments as soon as no open run can
    still overlap them; greedy NMS only ever compares overlapping segments, so this gives
    exactly the result of one NMS over the whole video, with bounded memory.

    Args:
        num_classes (int): Number of classes K.
        score_thr (float): Class probability needed to open or extend a run.
            Defaults to 0.3.
        boundary_thr (float): Start-/end-ness that splits a run. Values above 1
            disable splitting. Defaults to 0.5.
        min_duration (int): Minimum segment length in decoder frames. Defaults to 1.
        nms_iou_thr (float): tIoU above which the lower-scored segment is suppressed.
            Defaults to 0.5.
        nms_class_agnostic (bool): Whether segments of different classes suppress each
            other (one person performs one gesture at a time). Defaults to True.
    """

    def __init__(
        self,
        num_classes: int,
        score_thr: float = 0.3,
        boundary_thr: float = 0.5,
        min_duration: int = 1,
        nms_iou_thr: float = 0.5,
        nms_class_agnostic: bool = True,
    ) -> None:
        if num_classes < 1:
            raise ValueError(f'num_classes must be >= 1, got {num_classes}')
        if not 0.0 <= score_thr <= 1.0:
            raise ValueError(f'score_thr must be in [0, 1], got {score_thr}')
        if min_duration < 1:
            raise ValueError(f'min_duration must be >= 1 frame, got {min_duration}')
        self.num_classes = num_classes
        self.score_thr = score_thr
        self.boundary_thr = boundary_thr
        self.min_duration = min_duration
        self.nms_iou_thr = nms_iou_thr
        self.nms_class_agnostic = nms_class_agnostic
        self.reset()

    def reset(self) -> None:
        """Forget all state; the next frame is frame 0."""
        self.frame_index = 0
        self._run_open = np.zeros(self.num_classes, dtype=bool)
        self._run_start = np.zeros(self.num_classes, dtype=np.int64)
        self._run_sum = np.zeros(self.num_classes, dtype=np.float64)
        self._pending: list[Segment] = []

    @property
    def num_pending(self) -> int:
        """Closed segments still waiting for NMS (bounded by what open runs overlap)."""
        return len(self._pending)

    def update(self, cls_scores: np.ndarray, boundary_scores: np.ndarray) -> list[Segment]:
        """Consume the next frames and return the segments finalised by them.

        Args:
            cls_scores (np.ndarray): Class probabilities, shape ``(t, K)``.
            boundary_scores (np.ndarray): Start-ness and end-ness, shape ``(t, 2)``.

        Returns:
            list[Segment]: Finalised segments, sorted by start then label.
        """
        cls_scores = np.asarray(cls_scores, dtype=np.float64)
        boundary_scores = np.asarray(boundary_scores, dtype=np.float64)
        if cls_scores.ndim != 2 or cls_scores.shape[1] != self.num_classes:
            raise ValueError(
                f'cls_scores must have shape (t, {self.num_classes}), got {cls_scores.shape}'
            )
        if boundary_scores.shape != (cls_scores.shape[0], 2):
            raise ValueError(
                f'boundary_scores must have shape ({cls_scores.shape[0]}, 2), '
                f'got {boundary_scores.shape}'
            )
        finalised = []
        for scores, (start_ness, end_ness) in zip(cls_scores, boundary_scores):
            t = self.frame_index
            active = scores >= self.score_thr
            split = active & self._run_open & (self._run_start < t)
            split &= start_ness >= self.boundary_thr
            self._close_runs(self._run_open & (~active | split), end=t)
            opening = active & ~self._run_open
            self._run_start[opening] = t
            self._run_sum[opening] = 0.0
            self._run_open |= opening
            self._run_sum[active] += scores[active]
            if end_ness >= self.boundary_thr:
                self._close_runs(self._run_open.copy(), end=t + 1)
            self.frame_index += 1
            finalised.extend(self._release())
        return finalised

    def finish(self) -> list[Segment]:
        """Close every open run at the current frame and return what is left."""
        self._close_runs(self._run_open.copy(), end=self.frame_index)
        return self._release()

    def _close_runs(self, mask: np.ndarray, end: int) -> None:
        for label in np.flatnonzero(mask):
            start = int(self._run_start[label])
            if end - start >= self.min_duration:
                score = float(self._run_sum[label] / (end - start))
                self._pending.append(Segment(start, end, int(label), score))
        self._run_open &= ~mask

    def _release(self) -> list[Segment]:
        """NMS over the overlap groups that no open run can reach any more."""
        if not self._pending:
            return []
        horizon = int(self._run_start[self._run_open].min()) if self._run_open.any() else None
        pending = sorted(self._pending, key=lambda s: (s.start, s.end, s.label))
        released, kept, group, group_end = [], [], [], 0
        for segment in pending + [None]:
            if segment is not None and group and segment.start < group_end:
                group.append(segment)
                group_end = max(group_end, segment.end)
                continue
            # A group reaching into an open run may still be suppressed through it.
            if group and (horizon is None or group_end <= horizon):
                released.extend(self._nms(group))
            else:
                kept.extend(group)
            if segment is not None:
                group, group_end = [segment], segment.end
        self._pending = kept
        return sorted(released, key=lambda s: (s.start, s.label))

    def _nms(self, group: list[Segment]) -> list[Segment]:
        if len(group) == 1:
            return group
        segments = torch.tensor([[s.start, s.end] for s in group], dtype=torch.float64)
        scores = torch.tensor([s.score for s in group], dtype=torch.float64)
        labels = torch.tensor([s.label for s in group], dtype=torch.long)
        if self.nms_class_agnostic:
            labels = torch.zeros_like(labels)
        keep = batched_nms_1d(segments, scores, labels, self.nms_iou_thr)
        return [group[i] for i in keep.tolist()]


def decode_segments(
    cls_scores: np.ndarray, boundary_scores: np.ndarray, **decoder_cfg
) -> list[Segment]:
    """Decode a whole sequence at once (offline), same result as streaming it.

    Args:
        cls_scores (np.ndarray): Class probabilities, shape ``(T, K)``.
        boundary_scores (np.ndarray): Start-ness and end-ness, shape ``(T, 2)``.
        **decoder_cfg: Arguments of :class:`SegmentDecoder` other than ``num_classes``.

    Returns:
        list[Segment]: Segments sorted by start then label.
    """
    decoder = SegmentDecoder(np.asarray(cls_scores).shape[-1], **decoder_cfg)
    segments = decoder.update(cls_scores, boundary_scores) + decoder.finish()
    return sorted(segments, key=lambda s: (s.start, s.label))
