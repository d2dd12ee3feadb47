"""Online micro-gesture recognition on a live stream of frames."""

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
    clip is complete: the floor is one clip, ``clip_frames * frame_interval`` native
    frames (16 x 1 = 0.57 s at 28 fps), plus the decoder's delay (a segment waits
    while a still-open run could suppress it, see :class:`SegmentDecoder`).

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
    """

    def __init__(
        self,
        model: torch.nn.Module,
        transforms: Callable[[list[np.ndarray]], list[np.ndarray]] | None = None,
        frame_interval: int = 1,
        class_names: Sequence[str] | None = None,
        score_thr: float | None = None,
    ) -> None:
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
        self.reset()

    def reset(self) -> None:
        """Start a new video: drop all buffered frames and state."""
        self.num_frames_seen = 0  # native frames received
        self._frame_shape: tuple | None = None
        self._clip: list[np.ndarray] = []
        self._state: dict | None = None
        self._decoder = self.model.head.build_decoder(self.frame_interval, self.score_thr)
        self.num_segments = 0
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
            return []
        if self._frame_shape is None:
            self._frame_shape = frames.shape[1:]
        elif frames.shape[1:] != self._frame_shape:
            raise ValueError(
                f'frame size changed from {self._frame_shape} to {frames.shape[1:]} after '
                f'{self.num_frames_seen} frames; call reset() before a new video'
            )
        offsets = np.arange(len(frames)) + self.num_frames_seen
        kept = frames[offsets % self.frame_interval == 0]
        self.num_frames_seen += len(frames)
        segments = []
        if len(kept):
            for frame in self._apply_transforms(list(kept)):
                self._clip.append(frame)
                if len(self._clip) == self.clip_frames:
                    segments += self._run_clip(num_real=self.clip_frames)
        self._collect_frame_scores()
        return self._to_dicts(segments)

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
        """Flush: decode the partial last clip, close open segments, reset.

        The partial clip is padded by repeating its last frame; the padding's
        scores are not decoded.

        Returns:
            list[dict]: The remaining segments, as :meth:`process` returns them.
        """
        segments = []
        if self._clip:
            num_real = len(self._clip)
            self._clip += [self._clip[-1]] * (self.clip_frames - num_real)
            segments = self._run_clip(num_real)
        segments = self._to_dicts(segments + self._decoder.finish())
        self._collect_frame_scores()
        frame_scores = self.last_frame_scores
        self.reset()
        self.last_frame_scores = frame_scores
        return segments

    def state_nbytes(self) -> int:
        """Bytes held between calls (frame buffer, model state, decoder runs)."""
        tensors = _tensors_in(self._state)
        model_bytes = sum(t.numel() * t.element_size() for t in tensors)
        frame_bytes = sum(f.nbytes for f in self._clip)
        return model_bytes + frame_bytes + 64 * self._decoder.num_pending

    def _apply_transforms(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        if self.transforms is None:
            return frames
        return self.transforms(frames)

    def _run_clip(self, num_real: int) -> list[dict]:
        clip = torch.from_numpy(np.stack(self._clip)).permute(3, 0, 1, 2)  # (C, T, H, W)
        self._clip = []
        data = self.model.data_preprocessor(dict(inputs=[clip], data_samples=None))
        cls_scores, boundary_scores, self._state = self.model.forward_stream(
            data['inputs'], self._state
        )
        cls = cls_scores[0, :, :num_real].T.float().cpu().numpy()
        bnd = boundary_scores[0, :, :num_real].T.float().cpu().numpy()
        self._frame_score_parts.append(cls.max(axis=1))
        return self._decoder.update(cls, bnd)

    def _collect_frame_scores(self) -> None:
        parts = self._frame_score_parts
        self.last_frame_scores = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        self._frame_score_parts = []

    def _to_dicts(self, segments: list[Segment]) -> list[dict]:
        kept = [s for s in segments if s.score >= self.score_thr]
        self.num_segments += len(kept)
        return [
            dict(
                label=s.label,
                label_name=self.class_names[s.label],
                start_frame=s.start * self.frame_interval,
                end_frame=s.end * self.frame_interval,
                score=s.score,
                emitted_frame=self.num_frames_seen,
            )
            for s in kept
        ]


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
