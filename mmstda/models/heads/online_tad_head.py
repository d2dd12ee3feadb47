"""Online temporal action detection head: per-frame classes and boundaries."""

import math

import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmengine.model import BaseModule
from mmengine.structures import InstanceData
from torch import Tensor, nn

from mmstda.utils.class_balance import class_balanced_weights

from .segment_decoder import SegmentDecoder


class _TemporalBlock(nn.Module):
    """Depthwise dilated temporal conv + per-frame MLP, with a residual.

    LayerNorm normalises each frame over channels; a norm over time (BatchNorm,
    GroupNorm) would leak future frames into the past.
    """

    def __init__(
        self, channels: int, kernel_size: int, dilation: int, causal: bool, dropout: float
    ) -> None:
        super().__init__()
        self.causal = causal
        self.context = (kernel_size - 1) * dilation
        self.dwconv = nn.Conv1d(channels, channels, kernel_size, dilation=dilation, groups=channels)
        self.norm = nn.LayerNorm(channels)
        self.mlp = nn.Sequential(
            nn.Linear(channels, 2 * channels),
            nn.GELU(),
            nn.Linear(2 * channels, channels),
            nn.Dropout(dropout),
        )

    def forward(self, x: Tensor, cache: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """x: ``(B, C, T)``; cache: the last ``context`` causal inputs ``(B, C, context)``."""
        if self.causal:
            if cache is None:
                cache = x.new_zeros(x.size(0), x.size(1), self.context)
            padded = torch.cat([cache, x], dim=-1)
            new_cache = padded[..., padded.size(-1) - self.context :]
        else:
            half = self.context // 2
            padded = F.pad(x, (half, self.context - half))
            new_cache = None
        y = self.dwconv(padded).transpose(1, 2)
        y = self.mlp(self.norm(y)).transpose(1, 2)
        return x + y, new_cache


@MODELS.register_module()
class OnlineTADHead(BaseModule):
    """Frame-level micro-gesture detection head for online use.

    Per frame it predicts K sigmoid class scores (background is "no class": mmdet's
    convention, label K in the loss targets) and two boundary scores, start-ness and
    end-ness. :class:`SegmentDecoder` turns them into segments.

    Args:
        in_channels (int): Channels of the per-frame input features.
        num_classes (int): Number of gesture classes K (without background).
        feat_channels (int): Width of the temporal model. Defaults to 256.
        num_layers (int): Temporal blocks. Defaults to 5.
        kernel_size (int): Temporal kernel of each block (odd). Defaults to 3.
        dilations (list[int], optional): Dilation per block. Defaults to None,
            meaning ``1, 2, 4, ...``: at k=3 the receptive field is
            ``2**(num_layers + 1) - 1`` frames (63 for 5 layers, above the mean MG
            length of 51 frames).
        causal (bool): Whether outputs at frame t depend only on frames <= t.
            Defaults to True.
        dropout (float): Dropout inside the blocks. Defaults to 0.1.
        loss_cls (dict): Classification loss config, called as
            ``loss(logits (N, K), labels (N,), weight, avg_factor)``.
            Defaults to ``dict(type='SigmoidFocalLoss')``.
        loss_boundary (dict): Boundary loss config, called with binary targets
            ``(N, 2)``. Defaults to ``dict(type='SigmoidFocalLoss', alpha=-1)``.
        boundary_radius (int): Frames on each side of a ground-truth boundary that
            also count as boundary frames (sub-sampled frames). Defaults to 1.
        class_balanced (bool): Weight foreground frames by class-balanced weights
            once :meth:`set_class_counts` has been called: ``1 / E_n`` scaled so
            that their mean over the training gestures is 1, which keeps the
            foreground/background balance of the loss (background frames keep
            weight 1). Defaults to False.
        cb_beta (float, optional): beta of the effective number; None for
            ``(N - 1) / N``. Defaults to None.
        test_cfg (dict, optional): Decoder settings: ``score_thr``,
            ``boundary_thr``, ``min_duration_frames`` (native frames),
            ``nms_iou_thr``, ``nms_class_agnostic`` (see :class:`SegmentDecoder`) and
            ``max_per_window`` (top-scored segments kept per window by
            :meth:`predict`; streaming keeps all). Defaults to None, meaning
            ``default_test_cfg``.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    default_test_cfg = dict(
        score_thr=0.3,
        boundary_thr=0.5,
        min_duration_frames=8,
        nms_iou_thr=0.5,
        nms_class_agnostic=True,
        max_per_window=100,
    )

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        feat_channels: int = 256,
        num_layers: int = 5,
        kernel_size: int = 3,
        dilations: list[int] | None = None,
        causal: bool = True,
        dropout: float = 0.1,
        loss_cls: dict | None = None,
        loss_boundary: dict | None = None,
        boundary_radius: int = 1,
        class_balanced: bool = False,
        cb_beta: float | None = None,
        test_cfg: dict | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f'kernel_size must be odd and >= 1, got {kernel_size}')
        dilations = [2**i for i in range(num_layers)] if dilations is None else list(dilations)
        if len(dilations) != num_layers:
            raise ValueError(f'need {num_layers} dilations, got {dilations}')
        unknown = set(test_cfg or {}) - set(self.default_test_cfg)
        if unknown:
            raise ValueError(
                f'unknown test_cfg keys {sorted(unknown)}; expected {sorted(self.default_test_cfg)}'
            )
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.causal = causal
        self.boundary_radius = boundary_radius
        self.class_balanced = class_balanced
        self.cb_beta = cb_beta
        self.test_cfg = {**self.default_test_cfg, **(test_cfg or {})}

        self.input_proj = nn.Conv1d(in_channels, feat_channels, 1)
        self.blocks = nn.ModuleList(
            _TemporalBlock(feat_channels, kernel_size, d, causal, dropout) for d in dilations
        )
        self.out_norm = nn.LayerNorm(feat_channels)
        self.cls_out = nn.Conv1d(feat_channels, num_classes, 1)
        self.boundary_out = nn.Conv1d(feat_channels, 2, 1)
        # Persistent so class-balanced weights travel with checkpoints.
        self.register_buffer('class_weights', torch.ones(num_classes))
        self.loss_cls = MODELS.build(loss_cls or dict(type='SigmoidFocalLoss'))
        self.loss_boundary = MODELS.build(
            loss_boundary or dict(type='SigmoidFocalLoss', alpha=-1.0)
        )

    def init_weights(self) -> None:
        """Start rare: class and boundary biases give probability 0.01 (focal-loss prior)."""
        super().init_weights()
        cfgs = self.init_cfg if isinstance(self.init_cfg, list) else [self.init_cfg]
        if any(cfg and cfg.get('type') == 'Pretrained' for cfg in cfgs):
            return  # keep the loaded biases
        prior_bias = -math.log((1 - 0.01) / 0.01)
        nn.init.constant_(self.cls_out.bias, prior_bias)
        nn.init.constant_(self.boundary_out.bias, prior_bias)

    def set_class_counts(self, counts: list[int]) -> None:
        """Set class-balanced weights ``1 / E_n`` from training instance counts.

        The weights are normalised over instances (``sum_k n_k w_k = sum_k
        n_k``), not over classes as in Cui et al.: with a background that is
        not reweighted, the per-class rule shrinks the whole foreground's share
        of the loss under a long tail (to 0.26 of unweighted on the synthetic
        demo's counts), and the head learned to detect nothing.

        Args:
            counts (list[int]): Training instances per class, length K.
        """
        if len(counts) != self.num_classes:
            raise ValueError(
                f'set_class_counts expects {self.num_classes} counts, got {len(counts)}'
            )
        weights = class_balanced_weights(counts, self.cb_beta, normalise='instances')
        self.class_weights.copy_(torch.as_tensor(weights, dtype=self.class_weights.dtype))

    # ------------------------------------------------------------------ forward
    def forward(self, feats: Tensor) -> tuple[Tensor, Tensor]:
        """Per-frame logits for a whole window.

        Args:
            feats (Tensor): Per-frame features ``(B, C, T)``.

        Returns:
            tuple[Tensor, Tensor]: Class logits ``(B, K, T)`` and boundary logits
            ``(B, 2, T)`` (start-ness, end-ness).
        """
        cls_logits, boundary_logits, _ = self._forward(feats, None)
        return cls_logits, boundary_logits

    def forward_stream(
        self, feats: Tensor, state: list[Tensor] | None = None
    ) -> tuple[Tensor, Tensor, list[Tensor]]:
        """Causal forward of the next frames, carrying the temporal state.

        Feeding a window chunk by chunk gives the same logits as :meth:`forward` on
        the whole window. The state holds ``(kernel_size - 1) * dilation`` frames
        per block, whatever the stream's length.

        Args:
            feats (Tensor): Features of the next frames ``(B, C, t)``, any t >= 1.
            state (list[Tensor], optional): State from the previous call; None at
                the start of a stream. Defaults to None.

        Returns:
            tuple: Class logits ``(B, K, t)``, boundary logits ``(B, 2, t)`` and the
            new state.
        """
        if not self.causal:
            raise RuntimeError(
                'forward_stream needs causal=True: a non-causal head sees the future'
            )
        return self._forward(feats, state)

    def _forward(
        self, feats: Tensor, state: list[Tensor] | None
    ) -> tuple[Tensor, Tensor, list[Tensor]]:
        if feats.dim() != 3 or feats.size(1) != self.in_channels:
            raise ValueError(
                f'expected features (B, {self.in_channels}, T), got {tuple(feats.shape)}'
            )
        x = self.input_proj(feats)
        new_state = []
        for i, block in enumerate(self.blocks):
            x, cache = block(x, None if state is None else state[i])
            new_state.append(cache)
        x = self.out_norm(x.transpose(1, 2)).transpose(1, 2)
        return self.cls_out(x), self.boundary_out(x), new_state

    # --------------------------------------------------------------------- loss
    def get_targets(self, data_samples: list, num_frames: int) -> tuple[Tensor, Tensor]:
        """Frame labels and boundary targets from window-relative ground truth.

        Clip frame i sits at native offset ``i * frame_interval``; it belongs to a
        ground truth ``[start, end]`` when ``start <= i * frame_interval < end``
        (the shortest one wins where they overlap). Boundaries on the window's
        edges are not marked: the gesture may continue outside the window.

        Args:
            data_samples (list[ActionDataSample]): With ``gt_instances`` and metainfo
                ``frame_interval``.
            num_frames (int): Frames T of the window.

        Returns:
            tuple[Tensor, Tensor]: Labels ``(B, T)`` (K = background) and boundary
            targets ``(B, T, 2)``.
        """
        labels, boundaries = [], []
        for sample in data_samples:
            interval = int(sample.metainfo.get('frame_interval', 1))
            positions = torch.arange(num_frames, dtype=torch.float32) * interval
            frame_label = torch.full((num_frames,), self.num_classes, dtype=torch.long)
            frame_span = torch.full((num_frames,), float('inf'))
            boundary = torch.zeros(num_frames, 2)
            gt = sample.gt_instances
            for (start, end), label in zip(gt.segments.float().cpu().tolist(), gt.labels.tolist()):
                if not 0 <= label < self.num_classes:
                    raise ValueError(
                        f'gt label {label} of video {sample.metainfo.get("video_id")} is '
                        f'outside [0, {self.num_classes})'
                    )
                inside = (positions >= start) & (positions < end) & (end - start < frame_span)
                frame_label[inside] = label
                frame_span[inside] = end - start
                self._mark(boundary[:, 0], start / interval, start > 0)
                last = math.ceil(end / interval) - 1
                self._mark(boundary[:, 1], last, end < num_frames * interval)
            labels.append(frame_label)
            boundaries.append(boundary)
        return torch.stack(labels), torch.stack(boundaries)

    def _mark(self, column: Tensor, frame: float, inside_window: bool) -> None:
        if not inside_window:
            return
        centre = round(frame)
        lo = max(centre - self.boundary_radius, 0)
        hi = min(centre + self.boundary_radius + 1, column.numel())
        if lo < hi:
            column[lo:hi] = 1.0

    def loss(self, feats: Tensor, data_samples: list) -> dict[str, Tensor]:
        """Classification and boundary losses.

        Args:
            feats (Tensor): Per-frame features ``(B, C, T)``.
            data_samples (list[ActionDataSample]): Ground truth per window.

        Returns:
            dict[str, Tensor]: ``loss_cls`` and ``loss_boundary``.
        """
        cls_logits, boundary_logits = self(feats)
        labels, boundaries = self.get_targets(data_samples, feats.size(-1))
        labels = labels.to(feats.device).flatten()
        boundaries = boundaries.to(feats.device).flatten(0, 1)
        cls_logits = cls_logits.transpose(1, 2).flatten(0, 1)
        boundary_logits = boundary_logits.transpose(1, 2).flatten(0, 1)

        foreground = labels < self.num_classes
        num_foreground = max(int(foreground.sum()), 1)
        weight = None
        if self.class_balanced:
            weight = torch.ones_like(labels, dtype=cls_logits.dtype)
            weight[foreground] = self.class_weights[labels[foreground]]
        loss_cls = self.loss_cls(cls_logits, labels, weight=weight, avg_factor=num_foreground)
        loss_boundary = self.loss_boundary(
            boundary_logits, boundaries, avg_factor=max(float(boundaries.sum()), 1.0)
        )
        return dict(loss_cls=loss_cls, loss_boundary=loss_boundary)

    # ------------------------------------------------------------------ predict
    def set_score_thr(self, score_thr: float) -> None:
        """Apply an operating point: the class probability that opens a run.

        A segment's score is the mean probability of its frames, each of which
        opened or extended the run, so it is never below the run-opening
        threshold: a later filter on segment scores at the same value keeps
        everything, and only this threshold decides what the head emits.
        Windowed (:meth:`predict`) and streaming (:meth:`build_decoder`)
        inference both read it.

        Args:
            score_thr (float): Run-opening threshold in [0, 1].
        """
        if not 0.0 <= float(score_thr) <= 1.0:
            raise ValueError(f'score_thr must be in [0, 1], got {score_thr}')
        self.test_cfg['score_thr'] = float(score_thr)

    def build_decoder(
        self, frame_interval: int = 1, score_thr: float | None = None
    ) -> SegmentDecoder:
        """A :class:`SegmentDecoder` with this head's ``test_cfg``.

        Args:
            frame_interval (int): Native frames between consecutive input frames,
                to turn ``min_duration_frames`` into decoder frames. Defaults to 1.
            score_thr (float, optional): Run-opening threshold for this decoder
                only (the validation sweep). Defaults to None:
                ``test_cfg['score_thr']``.

        Returns:
            SegmentDecoder: A fresh decoder.
        """
        cfg = self.test_cfg
        return SegmentDecoder(
            self.num_classes,
            score_thr=cfg['score_thr'] if score_thr is None else float(score_thr),
            boundary_thr=cfg['boundary_thr'],
            min_duration=max(1, math.ceil(cfg['min_duration_frames'] / frame_interval)),
            nms_iou_thr=cfg['nms_iou_thr'],
            nms_class_agnostic=cfg['nms_class_agnostic'],
        )

    def predict(self, feats: Tensor, data_samples: list) -> list[InstanceData]:
        """Segments per window in absolute native frames.

        Args:
            feats (Tensor): Per-frame features ``(B, C, T)``.
            data_samples (list[ActionDataSample]): Metainfo ``window_start_frame`` and
                ``frame_interval`` per window.

        Returns:
            list[InstanceData]: ``segments (M, 2)``, ``labels (M,)``, ``scores (M,)``.
        """
        cls_logits, boundary_logits = self(feats)
        return self.predict_by_scores(cls_logits.sigmoid(), boundary_logits.sigmoid(), data_samples)

    def predict_by_scores(
        self,
        cls_scores: Tensor,
        boundary_scores: Tensor,
        data_samples: list,
        score_thr: float | None = None,
    ) -> list[InstanceData]:
        """Decode probabilities ``(B, K, T)`` and ``(B, 2, T)`` into segments.

        ``score_thr`` overrides the run-opening threshold for this call (the
        validation sweep decodes each window once per swept threshold); None
        uses ``test_cfg['score_thr']``.
        """
        results = []
        for i, sample in enumerate(data_samples):
            interval = int(sample.metainfo.get('frame_interval', 1))
            offset = float(sample.metainfo.get('window_start_frame', 0))
            decoder = self.build_decoder(interval, score_thr)
            cls = cls_scores[i].detach().float().cpu().numpy().T
            bnd = boundary_scores[i].detach().float().cpu().numpy().T
            segments = decoder.update(cls, bnd) + decoder.finish()
            segments = sorted(segments, key=lambda s: -s.score)[: self.test_cfg['max_per_window']]
            results.append(segments_to_instances(segments, interval, offset))
        return results


def segments_to_instances(segments: list, frame_interval: int, offset_frame: float) -> InstanceData:
    """Decoder segments to ``InstanceData`` in native frames.

    A segment covering decoder frames ``[a, b)`` spans native
    ``[a * frame_interval, b * frame_interval]`` plus ``offset_frame``.

    Args:
        segments (list[Segment]): Decoded segments.
        frame_interval (int): Native frames per decoder frame.
        offset_frame (float): Native frame of decoder frame 0.

    Returns:
        InstanceData: ``segments (M, 2)`` float, ``labels (M,)`` long, ``scores (M,)``.
    """
    bounds = [
        [s.start * frame_interval + offset_frame, s.end * frame_interval + offset_frame]
        for s in segments
    ]
    return InstanceData(
        segments=torch.tensor(bounds, dtype=torch.float32).reshape(-1, 2),
        labels=torch.tensor([s.label for s in segments], dtype=torch.long),
        scores=torch.tensor([s.score for s in segments], dtype=torch.float32),
    )
