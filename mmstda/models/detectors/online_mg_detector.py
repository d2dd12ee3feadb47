"""Detector tying backbone, neck and online TAD head together."""

from mmaction.registry import MODELS
from mmengine.model import BaseModel
from torch import Tensor


@MODELS.register_module()
class OnlineMGDetector(BaseModel):
    """Online micro-gesture detector: backbone -> neck -> :class:`OnlineTADHead`.

    The backbone gets a window ``(B, C, T, H, W)`` and returns ``(B, C', T', H', W')``.
    Three kinds of backbone work:

    - with ``forward_stream`` (``DecoupledAdapterViT``): the whole window at once,
      since its adapters connect the clips;
    - clip-based without it (mmaction's ``VisionTransformer``, which only takes
      ``num_frames`` frames): each clip of ``clip_frames`` frames on its own;
    - fully convolutional ones (``X3D``, ``ResNet3dSlowOnly``): the whole window.

    Args:
        backbone (dict): Backbone config.
        head (dict): Head config: ``OnlineTADHead`` (streams) or ``AnchorFreeTADHead``
            (offline windows only).
        neck (dict, optional): Neck config. Defaults to None, meaning
            ``dict(type='TemporalAlignNeck')``.
        data_preprocessor (dict, optional): Defaults to None, meaning
            ``dict(type='ActionDataPreprocessor', format_shape='NCTHW')``.
        clip_frames (int, optional): Frames per backbone clip. Defaults to None,
            meaning the backbone's ``num_frames`` (read from its position table for
            mmaction's ``VisionTransformer``); a backbone without one runs on the
            whole window offline and on chunks of 16 frames when streaming.
        train_cfg (dict, optional): Unused; kept for config compatibility.
            Defaults to None.
        test_cfg (dict, optional): Overrides of the head's ``test_cfg``.
            Defaults to None.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    default_stream_clip_frames = 16

    def __init__(
        self,
        backbone: dict,
        head: dict,
        neck: dict | None = None,
        data_preprocessor: dict | None = None,
        clip_frames: int | None = None,
        train_cfg: dict | None = None,
        test_cfg: dict | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        data_preprocessor = data_preprocessor or dict(
            type='ActionDataPreprocessor', format_shape='NCTHW'
        )
        if isinstance(data_preprocessor, dict):
            # Built from mmaction's registry so no default scope is needed.
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck or dict(type='TemporalAlignNeck'))
        if test_cfg:
            head = {**head, 'test_cfg': {**head.get('test_cfg', {}), **test_cfg}}
        self.head = MODELS.build(head)
        self.train_cfg = train_cfg
        self.clip_frames = clip_frames or _backbone_clip_frames(self.backbone)
        self.backbone_streams = hasattr(self.backbone, 'forward_stream')
        # Run-opening thresholds to decode every window at, besides the head's own
        # (set by OperatingPointHook for validation); None outside the sweep.
        self.score_thr_sweep: list[float] | None = None

    def set_score_thr_sweep(self, thresholds: list[float] | None) -> bool:
        """Decode each predicted window once per threshold, for the validation sweep.

        Only a head whose threshold decides what it decodes (``OnlineTADHead``:
        the run-opening threshold) takes part: its windows then also carry
        ``pred_sweep = {thr: InstanceData}``, and :class:`MicroGestureF1Metric`
        scores each swept threshold on the segments decoded at it. Other heads
        (``AnchorFreeTADHead``) are swept by their kept-score threshold, which
        the metric applies itself.

        Args:
            thresholds (list[float], optional): The thresholds; None ends the sweep.

        Returns:
            bool: Whether the head re-decodes per threshold.
        """
        if thresholds is None or not hasattr(self.head, 'set_score_thr'):
            self.score_thr_sweep = None
            return False
        self.score_thr_sweep = [float(t) for t in thresholds]
        return True

    @property
    def stream_clip_frames(self) -> int:
        """Frames per step of :meth:`forward_stream`."""
        return self.clip_frames or self.default_stream_clip_frames

    # ------------------------------------------------------------------ features
    def _backbone_clips(self, inputs: Tensor) -> Tensor | tuple:
        """Backbone on each clip independently, clips folded into the batch."""
        batch, channels, num_frames, height, width = inputs.shape
        clip = self.clip_frames
        if num_frames % clip:
            raise ValueError(
                f'the window has {num_frames} frames, not a multiple of clip_frames={clip}'
            )
        num_clips = num_frames // clip
        clips = inputs.reshape(batch, channels, num_clips, clip, height, width)
        clips = clips.transpose(1, 2).flatten(0, 1)
        feats = self.backbone(clips)
        if isinstance(feats, (tuple, list)):
            feats = feats[-1]
        # (B * n, C', t', H', W') -> (B, C', n * t', H', W')
        feats = feats.reshape(batch, num_clips, *feats.shape[1:]).transpose(1, 2)
        return feats.flatten(2, 3)

    def extract_feat(self, inputs: Tensor) -> Tensor:
        """Per-frame features of a window.

        Args:
            inputs (Tensor): Normalised frames ``(B, C, T, H, W)``.

        Returns:
            Tensor: ``(B, C', T)``.
        """
        if inputs.dim() != 5:
            raise ValueError(
                f'expected inputs (B, C, T, H, W) (format_shape NCTHW), got {tuple(inputs.shape)}'
            )
        if self.backbone_streams or self.clip_frames is None:
            feats = self.backbone(inputs)
        else:
            feats = self._backbone_clips(inputs)
        return self.neck(feats, inputs.size(2))

    def forward(self, inputs: Tensor, data_samples: list | None = None, mode: str = 'tensor'):
        """mmengine's three modes.

        Args:
            inputs (Tensor): Normalised frames ``(B, C, T, H, W)``.
            data_samples (list[ActionDataSample], optional): Ground truth (loss) or
                metainfo (predict). Defaults to None.
            mode (str): ``'loss'``, ``'predict'`` or ``'tensor'``. Defaults to ``'tensor'``.

        Returns:
            dict | list | tuple: Losses; data samples with ``pred_instances`` in
            absolute native frames and ``pred_frame_scores`` (T,), the highest class
            probability per window frame; or the head's output, whose first item is
            the frame class logits ``(B, K, T)`` (``OnlineTADHead``: ``(cls_logits,
            boundary_logits (B, 2, T))``).
        """
        feats = self.extract_feat(inputs)
        if mode == 'tensor':
            return self.head(feats)
        if mode == 'loss':
            return self.head.loss(feats, data_samples)
        if mode == 'predict':
            if hasattr(self.head, 'predict_with_frame_scores'):
                # Heads that decode their own multi-level outputs (AnchorFreeTADHead).
                predictions, frame_scores = self.head.predict_with_frame_scores(feats, data_samples)
            else:
                cls_logits, boundary_logits = self.head(feats)
                cls_scores = cls_logits.sigmoid()
                boundary_scores = boundary_logits.sigmoid()
                predictions = self.head.predict_by_scores(cls_scores, boundary_scores, data_samples)
                for thr in self.score_thr_sweep or ():
                    swept = self.head.predict_by_scores(
                        cls_scores, boundary_scores, data_samples, score_thr=thr
                    )
                    for sample, pred in zip(data_samples, swept):
                        sample.set_field({**sample.get('pred_sweep', {}), thr: pred}, 'pred_sweep')
                # The highest class probability per window frame, for score traces.
                frame_scores = cls_scores.amax(dim=1).detach()
            for sample, pred, scores in zip(data_samples, predictions, frame_scores):
                sample.pred_instances = pred
                sample.pred_frame_scores = scores
            return data_samples
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")

    # ---------------------------------------------------------------- streaming
    def forward_stream(
        self, clip: Tensor, state: dict | None = None
    ) -> tuple[Tensor, Tensor, dict]:
        """Process the next clip(s) of a stream, carrying backbone and head state.

        With a causal head and a causal streaming backbone (or one that sees each
        clip on its own, like mmaction's ``VisionTransformer``), concatenating the
        outputs over consecutive calls equals :meth:`forward` in ``'tensor'`` mode on
        the whole stream, however the stream is cut into calls (whole clips each).
        A fully convolutional backbone (X3D) sees each call's frames on their own
        here, so its stream only approximates the offline output.

        Args:
            clip (Tensor): Normalised frames ``(B, C, n * stream_clip_frames, H, W)``:
                the next ``n >= 1`` clips of each of B streams. Several clips per
                call cost less per frame than one (one forward instead of n).
            state (dict, optional): State from the previous call, None to start.
                Defaults to None.

        Returns:
            tuple: Class probabilities ``(B, K, t)``, boundary probabilities
            ``(B, 2, t)`` and the new state (constant size).
        """
        clip_frames = self.stream_clip_frames
        if clip.dim() != 5 or clip.size(2) == 0 or clip.size(2) % clip_frames:
            raise ValueError(
                f'expected whole clips (B, C, n * {clip_frames}, H, W), got {tuple(clip.shape)}'
            )
        state = state or dict(backbone=None, head=None)
        if self.backbone_streams:
            feats, backbone_state = self.backbone.forward_stream(clip, state['backbone'])
        elif self.clip_frames is not None:
            feats, backbone_state = self._backbone_clips(clip), None
        else:
            feats, backbone_state = self.backbone(clip), None
        feats = self.neck(feats, clip.size(2))
        cls_logits, boundary_logits, head_state = self.head.forward_stream(feats, state['head'])
        new_state = dict(backbone=backbone_state, head=head_state)
        return cls_logits.sigmoid(), boundary_logits.sigmoid(), new_state


def _backbone_clip_frames(backbone) -> int | None:
    """Clip length a backbone was built for, None for fully convolutional ones."""
    if getattr(backbone, 'num_frames', None):
        return int(backbone.num_frames)
    pos_embed = getattr(backbone, 'pos_embed', None)
    grid_size = getattr(backbone, 'grid_size', None)
    projection = getattr(getattr(backbone, 'patch_embed', None), 'projection', None)
    if pos_embed is None or grid_size is None or projection is None:
        return None
    # mmaction's VisionTransformer does not keep num_frames: its position table has
    # one entry per (time step, row, column) token of a clip.
    tubelet_size = projection.kernel_size[0]
    return pos_embed.shape[1] // (grid_size[0] * grid_size[1]) * tubelet_size
