"""Online micro-gesture recognition on a live stream of frames."""

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from mmaction.registry import MODELS, TRANSFORMS
from mmengine.config import Config
from torch import Tensor

from mmstda.datasets.smg_meta import SMG_CLASSES
from mmstda.models.heads import Segment
from mmstda.utils.checkpoint import load_model_weights
from mmstda.utils.errors import UserInputError
from mmstda.utils.operating_point import resolve_score_thr

# Pipeline steps that change only the frames' pixels; the others (sampling, decoding,
# packing) are replaced by the recognizer's own buffering.
_SPATIAL_TRANSFORMS = ('Resize', 'CenterCrop')


class OnlineRecognizer:
    """Feeds frames through a causal detector clip by clip, with cached state.

    Each frame goes through the backbone once: the backbone's adapter cache and the
    head's temporal state carry the past, and :class:`SegmentDecoder` emits a segment
    as soon as nothing later can change it. What is kept between calls has a fixed
    size: one partial clip of frames, the model state, the decoder's open runs and
    the few closed segments an open run may still suppress.

    Latency. Attention inside a clip looks both ways, so a frame is scored once its
    clip is complete: the floor is one clip, ``frames_per_clip`` native frames
    (``clip_frames * frame_interval``, 16 x 1 = 0.57 s at 28 fps), plus the
    decoder's wait (a segment waits while a still-open run could suppress it; see
    :class:`SegmentDecoder` and :meth:`latency_bound_frames`). A segment is emitted
    only once its last native frame has been received, so ``emitted_frame >=
    end_frame`` always holds.

    Throughput. The clips completed by one :meth:`process` call go through the
    model in one forward (up to ``max_clips_per_forward``), which gives the same
    output as one clip per forward at a lower cost per frame: when frames are
    waiting (a file, or a live source after a stall), pass them in one call.

    Dropped frames. A live source that falls behind may drop frames; :meth:`skip`
    tells the recognizer, so that frame numbers stay on the source's clock. The
    model sees the frames around the gap as consecutive (drop whole clips,
    ``frames_per_clip`` native frames, to keep each clip a clean one).

    The last, partial clip of a video is completed by repeating its last frame, as
    the test windows do past a video's end (``SampleMGWindow``); only the real frames
    are decoded. Offline inference is defined the same way, so streaming equals
    offline for every video length.

    One threshold. The operating point ``score_thr`` (chosen on validation) is the
    class probability that opens a run, as in windowed inference, and finished
    segments (their mean probability, never below it) are kept from it up. None
    keeps the head's ``test_cfg.score_thr``.

    Args:
        model (OnlineMGDetector): A detector with a causal head (and a causal
            backbone if it streams), in eval mode.
        transforms (Callable, optional): Maps a list of ``(H, W, 3)`` uint8 frames to
            resized/cropped frames (the test pipeline's spatial steps). Defaults to
            None (frames used as given).
        frame_interval (int): Keep one native frame in ``frame_interval``, as the test
            pipeline samples them. Defaults to 1.
        class_names (Sequence[str], optional): Name per 0-based label. Defaults to
            None (the SMG names when the model has 17 classes, else ``'class_<i>'``).
        score_thr (float, optional): The operating point: the head's run-opening
            threshold for this stream, and segments scoring below it are not
            emitted. Defaults to None (the head's ``test_cfg.score_thr``).
        max_clips_per_forward (int): Most clips one forward takes when several are
            complete (bounds the activations' memory). Defaults to 8.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        transforms: Callable[[list[np.ndarray]], list[np.ndarray]] | None = None,
        frame_interval: int = 1,
        class_names: Sequence[str] | None = None,
        score_thr: float | None = None,
        max_clips_per_forward: int = 8,
    ) -> None:
        if isinstance(max_clips_per_forward, bool) or not isinstance(
            max_clips_per_forward, int | np.integer
        ):
            raise TypeError(
                f'max_clips_per_forward must be an int >= 1, got {max_clips_per_forward!r}'
            )
        if max_clips_per_forward < 1:
            raise ValueError(
                f'max_clips_per_forward must be an int >= 1, got {max_clips_per_forward}'
            )
        if score_thr is not None and not 0.0 <= score_thr <= 1.0:
            raise ValueError(f'score_thr must be in [0, 1], got {score_thr}')
        if isinstance(frame_interval, bool) or not isinstance(frame_interval, int | np.integer):
            raise TypeError(f'frame_interval must be an int >= 1, got {frame_interval!r}')
        if frame_interval < 1:
            raise ValueError(f'frame_interval must be an int >= 1, got {frame_interval}')
        if not callable(getattr(model.head, 'forward_stream', None)):
            # A user error: the tools print it as one line, without a traceback.
            raise UserInputError(
                f'online recognition needs a streaming head (OnlineTADHead, causal=True); '
                f'{type(model.head).__name__} decodes whole windows offline only'
            )
        if not getattr(model.head, 'causal', False):
            raise ValueError('online recognition needs a causal head (head causal=True)')
        if model.backbone_streams and not getattr(model.backbone, 'causal', True):
            raise ValueError('online recognition needs a causal backbone (backbone causal=True)')
        num_classes = model.head.num_classes
        if class_names is None:
            class_names = (
                SMG_CLASSES
                if num_classes == len(SMG_CLASSES)
                else [f'class_{i}' for i in range(num_classes)]
            )
        if len(class_names) != num_classes:
            raise ValueError(
                f'class_names has {len(class_names)} names, the model has {num_classes} classes'
            )
        self.model = model.eval()
        self.transforms = transforms
        self.frame_interval = frame_interval
        self.class_names = list(class_names)
        self.score_thr = (
            float(model.head.test_cfg['score_thr']) if score_thr is None else float(score_thr)
        )
        self.clip_frames = model.stream_clip_frames
        self.max_clips_per_forward = int(max_clips_per_forward)
        self.num_segments = 0
        self.reset()

    @property
    def frames_per_clip(self) -> int:
        """Native frames per model clip: the latency floor, and the unit to drop in."""
        return self.clip_frames * self.frame_interval

    @property
    def num_pending(self) -> int:
        """Segments decoded but not emitted yet (the decoder's, and those awaiting a frame).

        It stays at a few in the typical case; a chain of overlapping segments with
        rising scores makes it grow (see :class:`SegmentDecoder`).
        """
        return self._decoder.num_pending + len(self._held)

    def latency_bound_frames(self, duration_frames: int) -> int:
        """Typical emission latency of a segment ``duration_frames`` native frames long.

        Native frames from the segment's end to its emission: up to one clip
        before its last frame is scored, then the decoder's wait, at most
        ``(1 / nms_iou_thr - 1)`` times the longest segment of its NMS group (its
        own length when no longer segment overlaps it), then up to
        ``frame_interval`` frames until its last native frame is in. A chain of
        overlapping segments can hold a segment longer (see
        :class:`SegmentDecoder`): this is the typical bound, not a guarantee.

        Args:
            duration_frames (int): The segment's length in native frames.

        Returns:
            int: The bound in native frames.
        """
        iou = self._decoder.nms_iou_thr
        wait = math.ceil((1.0 / iou - 1.0) * max(int(duration_frames), 0))
        return self.frames_per_clip + wait + self.frame_interval

    def reset(self) -> None:
        """Start a new video: drop all buffered frames and state (and the counts)."""
        self._start_video()
        self.num_segments = 0

    def _start_video(self) -> None:
        self.num_frames_seen = 0  # native frames received (or skipped)
        self.num_frames_skipped = 0  # native frames dropped by the source (skip())
        self._frame_shape: tuple | None = None
        self._clip: list[np.ndarray] = []  # transformed frames not run yet
        self._state: dict | None = None
        self._decoder = self.model.head.build_decoder(self.frame_interval, self.score_thr)
        # Model frame index -> native frame: (model index, native frame) at each jump
        # of the native clock (skip()), the first one (0, 0). Pruned to what an open
        # run or a pending segment may still need.
        self._model_frames = 0
        self._anchors: list[tuple[int, int]] = [(0, 0)]
        # Decoded segments whose last native frame has not been received yet.
        self._held: list[dict] = []
        self._new_video = False
        # Per frame decoded by the latest call: the highest class probability.
        self.last_frame_scores = np.zeros(0, dtype=np.float32)
        self._frame_score_parts: list[np.ndarray] = []

    @torch.no_grad()
    def process(self, frames: np.ndarray) -> list[dict]:
        """Feed the next frames of the video.

        Args:
            frames (np.ndarray): uint8 RGB frames ``(N, H, W, 3)`` (a single
                ``(H, W, 3)`` frame is accepted too). An empty chunk (N = 0) is a
                no-op.

        Returns:
            list[dict]: Segments finalised during this call and scoring at least
            ``score_thr`` (the caller keeps the history; the recognizer holds
            nothing that grows), each with ``label`` (0-based), ``label_name``,
            ``start_frame``, ``end_frame`` (native frames from the start of the
            video), ``score`` and ``emitted_frame`` (native frames received when it
            was emitted: ``emitted_frame - end_frame`` is its latency).
        """
        segments = self._run_complete_clips() if self._ingest(frames) else []
        self._collect_frame_scores()
        return self._emit(segments)

    def _ingest(self, frames: np.ndarray) -> int:
        """Check, sub-sample and transform frames into the clip buffer; return how many."""
        frames = np.asarray(frames)
        given = frames.shape
        if frames.ndim == 3 and frames.shape[-1] == 3:
            frames = frames[None]
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(
                f'frames must be uint8 RGB of shape (N, H, W, 3), got {frames.dtype} {given} '
                '(one (H, W, 3) frame is accepted too; convert grayscale frames to RGB first)'
            )
        if len(frames) == 0:
            return 0
        if self._frame_shape is None:
            self._frame_shape = frames.shape[1:]
        elif frames.shape[1:] != self._frame_shape:
            raise ValueError(
                f'frame size changed from {self._frame_shape} to {frames.shape[1:]} after '
                f'{self.num_frames_seen} frames; call reset() before a new video'
            )
        self._begin_if_new()
        offsets = np.arange(len(frames)) + self.num_frames_seen
        kept_at = offsets[offsets % self.frame_interval == 0]
        self.num_frames_seen += len(frames)
        if len(kept_at):
            self._record_native(int(kept_at[0]))
            self._model_frames += len(kept_at)
            kept = frames[kept_at - offsets[0]]
            self._clip += self._apply_transforms(list(kept))
        return len(kept_at)

    def skip(self, num_frames: int) -> list[dict]:
        """The source dropped the next ``num_frames`` native frames.

        The native clock moves on, so later segments keep the source's frame
        numbers; the model sees the frames before and after the gap as
        consecutive. Drop whole clips (``frames_per_clip`` native frames) where you
        can: the model then loses whole clips, not random frames inside one.

        Args:
            num_frames (int): Native frames dropped (>= 0).

        Returns:
            list[dict]: Segments that became due (as :meth:`process` returns them).
        """
        if isinstance(num_frames, bool) or not isinstance(num_frames, int | np.integer):
            raise TypeError(f'num_frames must be an int >= 0, got {num_frames!r}')
        if num_frames < 0:
            raise ValueError(f'num_frames must be an int >= 0, got {num_frames}')
        self._begin_if_new()
        self.num_frames_seen += int(num_frames)
        self.num_frames_skipped += int(num_frames)
        return self._emit([])

    def ongoing(self) -> list[dict]:
        """Gestures in progress: started (a run is open) and not ended yet.

        Returns:
            list[dict]: One per open run, each with ``label``, ``label_name``,
            ``start_frame`` (native), ``score`` (mean probability so far) and
            ``current_score`` (probability on the latest scored frame). Frames
            still buffered for the current clip are not scored yet.
        """
        return [
            dict(
                label=run.label,
                label_name=self.class_names[run.label],
                start_frame=run.start * self.frame_interval,
                score=run.score,
                current_score=run.current_score,
            )
            for run in self._decoder.ongoing()
        ]

    @torch.no_grad()
    def finish(self) -> list[dict]:
        """Flush: decode the partial last clip, close open segments, start anew.

        The partial clip is padded by repeating its last frame; the padding's
        scores are not decoded. A segment still open at the end of the video
        ends at its last frame (``end_frame <= num_frames_seen``).
        ``num_segments``, ``num_frames_seen`` and ``num_frames_skipped`` keep the
        finished video's counts until the next frames arrive.

        Returns:
            list[dict]: The remaining segments, as :meth:`process` returns them.
        """
        segments = []
        if self._clip:
            num_real = len(self._clip)
            self._clip += [self._clip[-1]] * (-num_real % self.clip_frames)
            segments = self._run_clips(len(self._clip) // self.clip_frames, num_real)
        segments = self._emit(segments + self._decoder.finish(), flush=True)
        self._collect_frame_scores()
        frame_scores = self.last_frame_scores
        counts = self.num_frames_seen, self.num_frames_skipped
        self._start_video()
        self.num_frames_seen, self.num_frames_skipped = counts
        self.last_frame_scores = frame_scores
        self._new_video = True
        return segments

    def state_nbytes(self) -> int:
        """Bytes held between calls (frame buffer, model state, decoder runs)."""
        tensors = _tensors_in(self._state)
        model_bytes = sum(t.numel() * t.element_size() for t in tensors)
        frame_bytes = sum(f.nbytes for f in self._clip)
        held = self._decoder.num_pending + len(self._held) + len(self._anchors)
        return model_bytes + frame_bytes + 64 * held

    def _apply_transforms(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        if self.transforms is None:
            return frames
        return self.transforms(frames)

    def _begin_if_new(self) -> None:
        """The first frames after finish(): the finished video's counts end here."""
        if self._new_video:
            self.num_segments = self.num_frames_seen = self.num_frames_skipped = 0
            self._new_video = False

    def _run_complete_clips(self) -> list[Segment]:
        segments = []
        while len(self._clip) >= self.clip_frames:
            num_clips = min(len(self._clip) // self.clip_frames, self.max_clips_per_forward)
            segments += self._run_clips(num_clips, num_clips * self.clip_frames)
        return segments

    def _run_clips(self, num_clips: int, num_real: int) -> list[Segment]:
        """One forward over the first ``num_clips`` buffered clips; decode ``num_real``."""
        inputs = self._take_clips(num_clips)
        cls_scores, boundary_scores, self._state = self.model.forward_stream(inputs, self._state)
        return self._decode(cls_scores[0], boundary_scores[0], num_real)

    def _take_clips(self, num_clips: int) -> Tensor:
        """The first ``num_clips`` buffered clips, normalised: ``(1, C, T, H, W)``."""
        num_frames = num_clips * self.clip_frames
        clip = torch.from_numpy(np.stack(self._clip[:num_frames])).permute(3, 0, 1, 2)
        del self._clip[:num_frames]
        return self.model.data_preprocessor(dict(inputs=[clip], data_samples=None))['inputs']

    def _decode(self, cls_scores: Tensor, boundary_scores: Tensor, num_real: int) -> list:
        """Decode one stream's probabilities ``(K, t)`` and ``(2, t)``, first ``num_real``."""
        cls = cls_scores[:, :num_real].T.float().cpu().numpy()
        bnd = boundary_scores[:, :num_real].T.float().cpu().numpy()
        self._frame_score_parts.append(cls.max(axis=1))
        return self._decoder.update(cls, bnd)

    def _collect_frame_scores(self) -> None:
        parts = self._frame_score_parts
        self.last_frame_scores = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        self._frame_score_parts = []

    def _record_native(self, native: int) -> None:
        """Anchor the next model frame at ``native`` when the native clock jumped."""
        if self._native(self._model_frames) != native:
            self._anchors.append((self._model_frames, native))

    def _native(self, index: int) -> int:
        """Native frame of model frame ``index``."""
        for anchor_index, anchor_native in reversed(self._anchors):
            if anchor_index <= index:
                return anchor_native + (index - anchor_index) * self.frame_interval
        raise AssertionError(f'model frame {index} precedes the first anchor')

    def _emit(self, segments: list[Segment], flush: bool = False) -> list[dict]:
        """Segments to dicts in native frames; hold each until its last frame is in."""
        for s in segments:
            if s.score < self.score_thr:
                continue
            end = self._native(s.end - 1) + self.frame_interval
            self._held.append(
                dict(
                    label=s.label,
                    label_name=self.class_names[s.label],
                    start_frame=self._native(s.start),
                    end_frame=end,
                    score=s.score,
                )
            )
        if flush:  # the video ended: what still waits for frames ends at its last frame
            for d in self._held:
                d['end_frame'] = min(d['end_frame'], self.num_frames_seen)
        due = [d for d in self._held if d['end_frame'] <= self.num_frames_seen]
        self._held = [d for d in self._held if d['end_frame'] > self.num_frames_seen]
        for d in due:
            d['emitted_frame'] = self.num_frames_seen
        self.num_segments += len(due)
        self._prune_anchors()
        return sorted(due, key=lambda d: (d['start_frame'], d['label']))

    def _prune_anchors(self) -> None:
        oldest = self._decoder.oldest_frame()
        oldest = self._model_frames if oldest is None else oldest
        keep = 0
        for i, (anchor_index, _) in enumerate(self._anchors):
            if anchor_index <= oldest:
                keep = i
        del self._anchors[:keep]


def _tensors_in(obj) -> list[Tensor]:
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, dict):
        return [t for v in obj.values() for t in _tensors_in(v)]
    if isinstance(obj, (list, tuple)):
        return [t for v in obj for t in _tensors_in(v)]
    return []


class _SpatialTransforms:
    """The test pipeline's spatial steps, applied to a list of frames."""

    def __init__(self, steps: list[dict]) -> None:
        self.steps = [TRANSFORMS.build(step) for step in steps]

    def __call__(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        results = dict(imgs=frames, img_shape=frames[0].shape[:2], modality='RGB')
        for step in self.steps:
            results = step(results)
        return results['imgs']


def _test_pipeline(cfg: Config) -> list[dict]:
    if cfg.get('test_pipeline'):
        return list(cfg.test_pipeline)
    for key in ('test_dataloader', 'val_dataloader'):
        dataset = cfg.get(key, {}).get('dataset', {})
        if dataset.get('pipeline'):
            return list(dataset.pipeline)
    return []


def _frame_interval(cfg: Config, pipeline: list[dict]) -> int:
    for step in pipeline:
        if 'frame_interval' in step:
            return int(step['frame_interval'])
    for key in ('test_dataloader', 'val_dataloader'):
        dataset = cfg.get(key, {}).get('dataset', {})
        if 'frame_interval' in dataset:
            return int(dataset['frame_interval'])
    return 1


def _class_names(cfg: Config) -> list[str] | None:
    if cfg.get('class_names'):
        return list(cfg.class_names)
    for key in ('test_dataloader', 'val_dataloader'):
        metainfo = cfg.get(key, {}).get('dataset', {}).get('metainfo') or {}
        if metainfo.get('classes'):
            return list(metainfo['classes'])
    return None


def init_online_recognizer(
    config: str | Path | Config,
    checkpoint: str | None = None,
    device: str = 'cpu',
    frame_interval: int | None = None,
    class_names: Sequence[str] | None = None,
    score_thr: float | None = None,
) -> OnlineRecognizer:
    """Build an :class:`OnlineRecognizer` from a config and a checkpoint.

    Resizing and cropping follow the ``Resize`` / ``CenterCrop`` steps of the config's
    test pipeline; normalisation is the model's data preprocessor.

    Args:
        config (str | Path | Config): Config file or object.
        checkpoint (str, optional): Checkpoint to load. Defaults to None (the
            weights the model is built with).
        device (str): Torch device. Defaults to ``'cpu'``.
        frame_interval (int, optional): Native frames per model frame. Defaults to
            None (read from the test pipeline, else 1).
        class_names (Sequence[str], optional): Name per label. Defaults to None (the
            config's ``class_names`` or dataset ``metainfo.classes``, else the SMG
            names for 17 classes).
        score_thr (float, optional): The operating point (run-opening threshold
            and kept-segment threshold). Defaults to None: the operating point
            stored in the checkpoint (chosen on validation), else the head's
            ``test_cfg.score_thr``.

    Returns:
        OnlineRecognizer: Ready for :meth:`OnlineRecognizer.process`.
    """
    cfg = config if isinstance(config, Config) else Config.fromfile(str(config))
    if 'model' not in cfg:
        raise ValueError(f'config {getattr(cfg, "filename", config)} has no `model` entry')
    model = MODELS.build(cfg.model)
    if checkpoint is not None:
        # Strict: a checkpoint of another model must not run on random weights.
        load_model_weights(model, checkpoint)
    model.to(device)
    pipeline = _test_pipeline(cfg)
    steps = [s for s in pipeline if str(s.get('type', '')).split('.')[-1] in _SPATIAL_TRANSFORMS]
    return OnlineRecognizer(
        model,
        transforms=_SpatialTransforms(steps) if steps else None,
        frame_interval=_frame_interval(cfg, pipeline) if frame_interval is None else frame_interval,
        class_names=class_names or _class_names(cfg),
        score_thr=resolve_score_thr(score_thr, checkpoint)[0],
    )
