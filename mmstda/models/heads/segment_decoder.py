"""Turn per-frame scores into segments, one frame at a time.

The same decoder serves offline windows and live streams, so a stream gives exactly the
segments the offline model gives on the same frames.
"""

from dataclasses import dataclass

import numpy as np
import torch

from mmstda.structures import batched_nms_1d, segment_iou
from mmstda.structures.segment_ops import nms_order


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


@dataclass(frozen=True)
class OngoingRun:
    """A gesture in progress: an open run of one class (decoder frame indices).

    Attributes:
        start (int): First frame of the run.
        label (int): 0-based class index.
        score (float): Mean class probability over the run so far.
        current_score (float): Class probability on the latest frame.
    """

    start: int
    label: int
    score: float
    current_score: float


# Slack on the tIoU bound: NMS compares float32 tIoUs, the bound is float64.
_IOU_SLACK = 1e-6


class SegmentDecoder:
    """Streaming decoder: class runs, boundary splits, minimum duration, then 1D NMS.

    Per class ``k``, a run is a stretch of frames with ``p[t, k] >= score_thr``. A run is
    split before frame ``t`` when the start-ness at ``t`` reaches ``boundary_thr`` and
    after frame ``t`` when the end-ness at ``t`` does, so back-to-back gestures of one
    class come out as separate segments. Segments shorter than ``min_duration`` frames
    are dropped, then greedy 1D NMS keeps the best of segments overlapping by more than
    ``nms_iou_thr``. Equal scores (saturated probabilities) are broken as in
    :func:`~mmstda.structures.segment_ops.nms_order`: the earlier start wins, then the
    earlier end (the shorter segment), then the lower label.

    Streaming gives exactly the segments of one NMS over the whole video (that of
    ``batched_nms_1d(segments, scores, labels, nms_iou_thr, nms_class_agnostic)``
    over every run of at least ``min_duration`` frames), ties included. Greedy NMS
    decomposes over the groups of segments linked by tIoU > ``nms_iou_thr``, so a
    closed segment is emitted as soon as no segment still to come can join its group.
    Only open runs can (new runs start after every closed segment ends), and a run
    open since ``s`` can at frame ``t`` reach at most
    ``(b - max(a, s)) / (t - min(a, s))`` with a closed ``[a, b)``: the longer it lasts,
    the less it can suppress. Hence:

    - a class that stays on for minutes never delays the segments of other classes
      (it cannot reach their tIoU);
    - an open run stops reaching a closed segment of length ``L`` at most
      ``(1 / nms_iou_thr - 1) * L`` frames after the segment ends (one segment
      length at 0.5), so a segment whose NMS group closes with it waits no longer;
    - the decoder holds K open runs plus the pending segments an open run still
      reaches, whatever the video's length.

    Latency and memory are bounded like this in the typical case, not in every
    case: exactness has a price. A segment's fate depends on every segment linked
    to it, and on theirs: a chain of overlapping segments, each closing while the
    next run is open and each scoring higher than the one before, keeps the whole
    chain pending until it ends, since the last one decides whether the first is
    kept. Measured: 800 overlapping 12-frame segments with rising scores keep 799
    pending, and the first one (ended at frame 15) comes out at frame 2410; with
    random scores the same chain keeps at most 4 pending for at most 10 frames.
    On the trained demo streaming its test videos, see the benchmark in the online
    inference guide (pending count and latency). ``num_pending`` tells a live
    caller when a stream is in such a chain.

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
        if not 0.0 < nms_iou_thr <= 1.0:
            raise ValueError(f'nms_iou_thr must be in (0, 1], got {nms_iou_thr}')
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
        self._last_score = np.zeros(self.num_classes, dtype=np.float64)
        self._pending: list[Segment] = []
        # Frame from which an open run may stop reaching a pending segment: until
        # then, and until a run closes, settling again would change nothing.
        self._next_check = 0
        # Settled segments (with whether NMS kept them) that pending ones link to.
        self._context: list[tuple[Segment, bool]] = []

    @property
    def num_pending(self) -> int:
        """Closed segments an open run may still suppress (bounded, see the class doc)."""
        return len(self._pending)

    def oldest_frame(self) -> int | None:
        """First frame an open run or a pending segment still refers to (None: none)."""
        starts = [s.start for s in self._pending]
        starts += self._run_start[self._run_open].tolist()
        return min(starts) if starts else None

    def ongoing(self) -> list[OngoingRun]:
        """The runs open now, i.e. gestures that started and have not ended.

        Returns:
            list[OngoingRun]: One per open class, by start then label. A run
            shorter than ``min_duration``, or suppressed by NMS when it closes,
            never becomes a segment.
        """
        runs = []
        for label in np.flatnonzero(self._run_open):
            start = int(self._run_start[label])
            score = float(self._run_sum[label] / max(self.frame_index - start, 1))
            runs.append(OngoingRun(start, int(label), score, float(self._last_score[label])))
        return sorted(runs, key=lambda r: (r.start, r.label))

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
        actives = cls_scores >= self.score_thr
        starts = boundary_scores[:, 0] >= self.boundary_thr
        ends = boundary_scores[:, 1] >= self.boundary_thr
        for scores, active, is_start, is_end in zip(cls_scores, actives, starts, ends):
            t = self.frame_index
            closing = self._run_open & ~active
            if is_start:
                closing |= active & self._run_open & (self._run_start < t)
            closed = bool(closing.any())
            if closed:
                self._close_runs(closing, end=t)
            opening = active & ~self._run_open
            if opening.any():
                self._run_start[opening] = t
                self._run_sum[opening] = 0.0
                self._run_open |= opening
            self._run_sum[active] += scores[active]
            if is_end and self._run_open.any():
                self._close_runs(self._run_open.copy(), end=t + 1)
                closed = True
            self.frame_index += 1
            if self._pending and (closed or self.frame_index >= self._next_check):
                finalised.extend(self._release())
        if len(cls_scores):
            self._last_score = cls_scores[-1].copy()
        return sorted(finalised, key=lambda s: (s.start, s.label))

    def finish(self) -> list[Segment]:
        """Close every open run at the current frame and return what is left."""
        self._close_runs(self._run_open.copy(), end=self.frame_index)
        return sorted(self._release(), key=lambda s: (s.start, s.label))

    def _close_runs(self, mask: np.ndarray, end: int) -> None:
        for label in np.flatnonzero(mask):
            start = int(self._run_start[label])
            if end - start >= self.min_duration:
                score = float(self._run_sum[label] / (end - start))
                self._pending.append(Segment(start, end, int(label), score))
        self._run_open &= ~mask

    def _may_interact(self, label_a: np.ndarray, label_b: np.ndarray) -> np.ndarray:
        if self.nms_class_agnostic:
            return np.ones((len(label_a), len(label_b)), dtype=bool)
        return label_a[:, None] == label_b[None, :]

    def _release(self) -> list[Segment]:
        """Settle the pending segments whose NMS fate no segment still to come can change.

        Greedy NMS visits segments in ``nms_order`` (descending score; equal scores by
        earlier start, earlier end, lower label) and keeps a segment iff no kept
        segment ahead of it in that order is linked to it (tIoU above
        ``nms_iou_thr``). The order is a total order on the segments themselves, so
        it is the same here as in one NMS over the whole video. A future segment can
        only link to a pending segment an open run can still reach, so a segment that
        no open run reaches is settled, in ``nms_order``, once its neighbours ahead
        of it are: suppressed if one of them is kept, kept if all of them are
        suppressed. This settles the old end of a chain of overlapping segments
        (every class on at once) while its young end still waits. A group that no
        open run reaches any more goes through one exact NMS. Settled segments stay
        as context only while a pending segment links to them.
        """
        if not self._pending:
            return []
        items = [s for s, _ in self._context] + self._pending
        num_ctx = len(self._context)
        bounds = np.array([[s.start, s.end] for s in items], dtype=np.float64)
        labels = np.array([s.label for s in items], dtype=np.int64)
        scores = np.array([s.score for s in items], dtype=np.float64)
        # Links between segments: tIoU above the NMS threshold.
        inter = np.minimum(bounds[:, None, 1], bounds[None, :, 1]) - np.maximum(
            bounds[:, None, 0], bounds[None, :, 0]
        )
        hull = np.maximum(bounds[:, None, 1], bounds[None, :, 1]) - np.minimum(
            bounds[:, None, 0], bounds[None, :, 0]
        )
        linked = (inter / hull > self.nms_iou_thr - _IOU_SLACK) & self._may_interact(labels, labels)
        np.fill_diagonal(linked, False)
        # Segments an open run could still reach: bound its tIoU over every future end.
        # Context segments were settled unreachable, and stay so (runs only get longer,
        # and new runs start after every closed segment ends).
        reachable = np.zeros(len(items), dtype=bool)
        open_labels = np.flatnonzero(self._run_open)
        if len(open_labels):
            run_starts = self._run_start[open_labels].astype(np.float64)
            best_inter = bounds[:, None, 1] - np.maximum(bounds[:, None, 0], run_starts[None])
            least_hull = self.frame_index - np.minimum(bounds[:, None, 0], run_starts[None])
            bound = np.where(best_inter > 0, best_inter / least_hull, 0.0)
            reach = (bound > self.nms_iou_thr - _IOU_SLACK) & self._may_interact(
                labels, open_labels
            )
            reach[:num_ctx] = False
            reachable = reach.any(axis=1)
            # The bound falls below the threshold from frame
            # min(a, s) + best_inter / threshold on: the next frame worth settling at
            # (floor: checking one frame early is harmless).
            frees = np.minimum(bounds[:, None, 0], run_starts[None]) + best_inter / (
                self.nms_iou_thr - _IOU_SLACK
            )
            self._next_check = int(np.floor(frees[reach].min())) if reach.any() else 0
        else:
            self._next_check = 0
        reachable[:num_ctx] = False
        # status: 1 kept, 0 suppressed, -1 not settled yet.
        status = np.full(len(items), -1, dtype=np.int64)
        status[:num_ctx] = [int(kept) for _, kept in self._context]
        for group in _connected_groups(linked):
            pending = [i for i in group if i >= num_ctx]
            if pending and not reachable[group].any():
                members = pending + [i for i in group if i < num_ctx and status[i] == 1]
                kept = {members[k] for k in self._nms_indices([items[i] for i in members])}
                for i in pending:
                    status[i] = int(i in kept)
        # Who suppresses whom, computed exactly as the NMS computes it (float32 tIoU,
        # no slack), since a settled decision must match it.
        tensor_bounds = torch.from_numpy(bounds).float()
        suppresses = (segment_iou(tensor_bounds, tensor_bounds) > self.nms_iou_thr).numpy()
        suppresses &= self._may_interact(labels, labels)
        np.fill_diagonal(suppresses, False)
        order = nms_order(
            torch.from_numpy(bounds), torch.from_numpy(scores), torch.from_numpy(labels)
        ).numpy()
        rank = np.empty(len(items), dtype=np.int64)
        rank[order] = np.arange(len(items))
        for i in order:
            if i < num_ctx or status[i] >= 0 or reachable[i]:
                continue
            neighbours = np.flatnonzero(suppresses[i])
            higher = neighbours[rank[neighbours] < rank[i]]
            if (status[higher] == 1).any():
                status[i] = 0
            elif (status[higher] == 0).all():
                status[i] = 1
        unsettled = status < 0
        released = [items[i] for i in range(num_ctx, len(items)) if status[i] == 1]
        self._pending = [items[i] for i in range(num_ctx, len(items)) if unsettled[i]]
        still_needed = linked[:, unsettled].any(axis=1) & ~unsettled
        self._context = [(items[i], bool(status[i])) for i in np.flatnonzero(still_needed)]
        return released

    def _nms_indices(self, group: list[Segment]) -> list[int]:
        """Indices of ``group`` that greedy 1D NMS keeps (labels break ties)."""
        if len(group) == 1:
            return [0]
        segments = torch.tensor([[s.start, s.end] for s in group], dtype=torch.float64)
        scores = torch.tensor([s.score for s in group], dtype=torch.float64)
        labels = torch.tensor([s.label for s in group], dtype=torch.long)
        return batched_nms_1d(
            segments, scores, labels, self.nms_iou_thr, self.nms_class_agnostic
        ).tolist()


def _connected_groups(linked: np.ndarray) -> list[list[int]]:
    """Connected components of a symmetric boolean adjacency matrix, in index order."""
    group_of = -np.ones(len(linked), dtype=np.int64)
    groups = []
    for seed in range(len(linked)):
        if group_of[seed] >= 0:
            continue
        group_of[seed] = len(groups)
        group, frontier = [seed], [seed]
        while frontier:
            node = frontier.pop()
            for other in np.flatnonzero(linked[node] & (group_of < 0)):
                group_of[other] = len(groups)
                group.append(int(other))
                frontier.append(int(other))
        groups.append(sorted(group))
    return groups


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
