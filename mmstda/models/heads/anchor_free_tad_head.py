"""Multi-scale anchor-free temporal detection head (ActionFormer-style), offline."""

import math

import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmengine.model import BaseModule
from mmengine.structures import InstanceData
from torch import Tensor, nn

from .anchor_free import (
    TemporalPyramid,
    assign_targets,
    default_regress_ranges,
    level_max_reach,
    level_positions,
    suppress,
    top_candidates,
)

DEFAULT_STRIDES = (1, 2, 4, 8, 16, 32)


class _ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the channels of ``(B, C, T)``."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


def _conv_tower(channels: int, num_convs: int, kernel_size: int) -> nn.Sequential:
    layers = []
    for _ in range(num_convs):
        layers += [
            nn.Conv1d(channels, channels, kernel_size, padding=kernel_size // 2),
            _ChannelLayerNorm(channels),
            nn.ReLU(inplace=True),
        ]
    return nn.Sequential(*layers)


@MODELS.register_module()
class AnchorFreeTADHead(BaseModule):
    """Multi-scale anchor-free temporal detection head, for offline windows.

    The kind of head the MiGA challenge entries and AdaTAD use (ActionFormer): a
    temporal feature pyramid over the per-frame features, and at every position of
    every level K sigmoid class scores and the distances to the gesture's start and
    end. Training assigns ground truths to positions by level (regression range)
    and centre sampling (:func:`assign_targets`), with a focal classification loss
    and an IoU-family (DIoU) loss on the decoded segments. Testing decodes every
    (position, class) pair above ``score_thr`` and keeps the best after (Soft-)NMS.

    It sees the whole window at once (non-causal convolutions, pooling), so unlike
    :class:`OnlineTADHead` it cannot stream; its :meth:`predict` has the same
    contract, so the detector, the F1 metric, window merging, submissions and
    timelines work unchanged. No dynamic-kernel (DyFADet) variant is implemented.

    Args:
        in_channels (int): Channels of the per-frame input features.
        num_classes (int): Number of gesture classes K (without background).
        feat_channels (int): Width of the pyramid and the heads. Defaults to 256.
        strides (tuple[int, ...]): Stride of each pyramid level in input frames;
            each divides the next. ActionFormer's default suits its long windows
            (thousands of frames); fit them to ``window_frames``. Defaults to
            ``(1, 2, 4, 8, 16, 32)``.
        regress_ranges (tuple[tuple[float, float], ...], optional): Per level, the
            range ``[lo, hi)`` of a position's largest distance to a boundary
            (input frames) that the level learns. None for ActionFormer's
            ``[4 s_{l-1}, 4 s_l)`` (:func:`default_regress_ranges`: ``(0, 4), (4,
            8), ..., (64, inf)`` for the default strides). Defaults to None.
        window_frames (int, optional): Input frames T of the windows the head is
            trained on (the length of its features). Given, every level is
            checked at construction to be able to hold a positive for some ground
            truth inside such a window (see :func:`level_max_reach`), and training
            refuses features of another length; None checks nothing.
            Defaults to None.
        num_stem_layers (int): Temporal blocks before the pyramid, at the frame
            rate. Defaults to 2.
        num_head_convs (int): Conv-norm-ReLU layers of each of the class and
            distance towers, shared by all levels. Defaults to 2.
        kernel_size (int): Temporal kernel of every convolution (odd).
            Defaults to 3.
        dropout (float): Dropout inside the pyramid blocks. Defaults to 0.1.
        center_radius (float, optional): Centre-sampling radius in strides of the
            level; None for every position inside a gesture. Defaults to 1.5.
        prior_prob (float): Initial class probability (bias of the class layer).
            Defaults to 0.01.
        loss_cls (dict): Classification loss, called as ``loss(logits (N, K),
            labels (N,), avg_factor)``. Defaults to ``dict(type='SigmoidFocalLoss')``.
        loss_reg (dict): Regression loss on ``[start, end]`` pairs of positive
            positions. Defaults to ``dict(type='SegmentIoULoss', mode='diou')``.
        test_cfg (dict, optional): Decoding settings, see ``default_test_cfg``:
            ``score_thr`` (class probability a candidate must exceed),
            ``pre_nms_topk``, ``min_duration_frames`` (native frames), ``nms``
            (``'soft'`` or ``'hard'``), ``nms_iou_thr`` (hard NMS), ``sigma`` and
            ``min_score`` (Soft-NMS), ``voting_iou_thr`` (None: no boundary voting),
            ``nms_class_agnostic`` (one person does one gesture at a time) and
            ``max_per_window``. Defaults to None.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    default_test_cfg = dict(
        score_thr=0.001,
        pre_nms_topk=2000,
        min_duration_frames=1,
        nms='soft',
        nms_iou_thr=0.5,
        sigma=0.7,
        min_score=0.001,
        voting_iou_thr=0.7,
        nms_class_agnostic=True,
        max_per_window=100,
    )

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        feat_channels: int = 256,
        strides: tuple[int, ...] = DEFAULT_STRIDES,
        regress_ranges: tuple[tuple[float, float], ...] | None = None,
        window_frames: int | None = None,
        num_stem_layers: int = 2,
        num_head_convs: int = 2,
        kernel_size: int = 3,
        dropout: float = 0.1,
        center_radius: float | None = 1.5,
        prior_prob: float = 0.01,
        loss_cls: dict | None = None,
        loss_reg: dict | None = None,
        test_cfg: dict | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f'kernel_size must be odd and >= 1, got {kernel_size}')
        if regress_ranges is None:
            regress_ranges = default_regress_ranges(tuple(strides))
        if len(regress_ranges) != len(strides):
            raise ValueError(
                f'need one regression range per stride: {len(strides)} strides {tuple(strides)}, '
                f'{len(regress_ranges)} ranges {tuple(regress_ranges)}'
            )
        if any(len(r) != 2 or not r[0] < r[1] for r in regress_ranges):
            raise ValueError(
                f'regression ranges must be (lo, hi) with lo < hi, got {regress_ranges}'
            )
        if not 0 < prior_prob < 1:
            raise ValueError(f'prior_prob must be in (0, 1), got {prior_prob}')
        unknown = set(test_cfg or {}) - set(self.default_test_cfg)
        if unknown:
            raise ValueError(
                f'unknown test_cfg keys {sorted(unknown)}; expected {sorted(self.default_test_cfg)}'
            )
        self.test_cfg = {**self.default_test_cfg, **(test_cfg or {})}
        if self.test_cfg['nms'] not in ('soft', 'hard'):
            raise ValueError(f"test_cfg nms must be 'soft' or 'hard', got {self.test_cfg['nms']!r}")
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.strides = tuple(int(s) for s in strides)
        self.regress_ranges = tuple((float(lo), float(hi)) for lo, hi in regress_ranges)
        self.center_radius = center_radius
        self.prior_prob = prior_prob
        self.window_frames = window_frames
        if window_frames is not None:
            self._check_levels_reachable(window_frames)

        self.pyramid = TemporalPyramid(
            in_channels, feat_channels, self.strides, num_stem_layers, kernel_size, dropout
        )
        padding = kernel_size // 2
        self.cls_tower = _conv_tower(feat_channels, num_head_convs, kernel_size)
        self.cls_out = nn.Conv1d(feat_channels, num_classes, kernel_size, padding=padding)
        self.reg_tower = _conv_tower(feat_channels, num_head_convs, kernel_size)
        self.reg_out = nn.Conv1d(feat_channels, 2, kernel_size, padding=padding)
        # One learnt scale per level, as in FCOS/ActionFormer: the levels share the
        # distance layer but predict distances of different sizes.
        self.reg_scales = nn.Parameter(torch.ones(len(self.strides)))
        self.loss_cls = MODELS.build(loss_cls or dict(type='SigmoidFocalLoss'))
        self.loss_reg = MODELS.build(loss_reg or dict(type='SegmentIoULoss', mode='diou'))

    def _check_levels_reachable(self, window_frames: int) -> None:
        """Raise for a level that no ground truth of a window can give a positive.

        Such a level is trained as background everywhere and only adds noise to
        decoding; with ActionFormer's strides 1-32 and a 64-frame window the
        stride-32 level's (64, inf) is one.
        """
        if int(window_frames) != window_frames or window_frames < 1:
            raise ValueError(f'window_frames must be a positive integer, got {window_frames}')
        for level, (stride, (lo, hi)) in enumerate(zip(self.strides, self.regress_ranges)):
            reach = level_max_reach(int(window_frames), stride, self.center_radius)
            if lo > reach:
                raise ValueError(
                    f'regress_ranges[{level}] = ({lo:g}, {hi:g}) of stride {stride} can never '
                    f'hold a positive in a window of window_frames={window_frames} input '
                    f'frames: with center_radius={self.center_radius}, a position of that '
                    f'level is at most {reach:g} frames from the farther boundary of a '
                    'ground truth inside the window. Drop the stride from strides or give '
                    'it a range that starts below that'
                )

    def init_weights(self) -> None:
        """Start rare: the class bias gives probability ``prior_prob`` (focal-loss prior)."""
        super().init_weights()
        cfgs = self.init_cfg if isinstance(self.init_cfg, list) else [self.init_cfg]
        if any(cfg and cfg.get('type') == 'Pretrained' for cfg in cfgs):
            return  # keep the loaded biases
        nn.init.constant_(self.cls_out.bias, -math.log((1 - self.prior_prob) / self.prior_prob))

    # ------------------------------------------------------------------ forward
    def forward(self, feats: Tensor) -> tuple[Tensor, list[Tensor], list[Tensor]]:
        """Per-frame class logits, and class logits and boundary distances per level.

        Args:
            feats (Tensor): Per-frame features ``(B, C, T)``.

        Returns:
            tuple: Frame class logits ``(B, K, T)`` (per frame and class, the
            highest logit of the positions covering it over all levels: the same
            first output as :class:`OnlineTADHead`, which ASBA's probe reads), and
            per level ``l`` of stride ``s_l`` class logits ``(B, K, ceil(T / s_l))``
            and distances ``(B, 2, ceil(T / s_l))`` from each position to the start
            and the end, in input frames (non-negative).
        """
        if feats.dim() != 3 or feats.size(1) != self.in_channels:
            raise ValueError(
                f'expected features (B, {self.in_channels}, T), got {tuple(feats.shape)}'
            )
        cls_logits, distances = [], []
        for level, x in enumerate(self.pyramid(feats)):
            cls_logits.append(self.cls_out(self.cls_tower(x)))
            scaled = self.reg_scales[level] * self.reg_out(self.reg_tower(x))
            distances.append(F.relu(scaled) * self.strides[level])
        num_frames = feats.size(-1)
        frame_logits = torch.stack(
            [
                logits.repeat_interleave(stride, dim=-1)[..., :num_frames]
                for logits, stride in zip(cls_logits, self.strides)
            ]
        ).amax(dim=0)
        return frame_logits, cls_logits, distances

    def _points(self, num_frames: int, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
        """Positions ``(P,)``, their strides ``(P,)`` and ranges ``(P, 2)``, levels concatenated."""
        positions = level_positions(num_frames, self.strides)
        strides = torch.cat([torch.full_like(p, s) for p, s in zip(positions, self.strides)])
        ranges = torch.cat(
            [torch.tensor([r]).expand(len(p), 2) for p, r in zip(positions, self.regress_ranges)]
        )
        return torch.cat(positions).to(device), strides.to(device), ranges.to(device)

    @staticmethod
    def _flatten_levels(per_level: list[Tensor]) -> Tensor:
        """Per-level ``(B, C, T_l)`` -> ``(B, P, C)``."""
        return torch.cat([x.transpose(1, 2) for x in per_level], dim=1)

    # --------------------------------------------------------------------- loss
    def _assign(
        self, data_samples: list, points: tuple[Tensor, Tensor, Tensor], center_radius
    ) -> tuple[Tensor, Tensor]:
        """:func:`assign_targets` per window, ground truths in input frames.

        Ground truths come in window-relative native frames and are divided by the
        window's ``frame_interval``: input frame ``i`` sits at native offset
        ``i * frame_interval``.
        """
        labels, targets = [], []
        for sample in data_samples:
            interval = int(sample.metainfo.get('frame_interval', 1))
            gt = sample.gt_instances
            gt_labels = gt.labels.cpu()
            bad = (gt_labels < 0) | (gt_labels >= self.num_classes)
            if bad.any():
                raise ValueError(
                    f'gt label {int(gt_labels[bad][0])} of video '
                    f'{sample.metainfo.get("video_id")} is outside [0, {self.num_classes})'
                )
            segments = gt.segments.float().cpu().reshape(-1, 2) / interval
            label, target = assign_targets(
                *points, segments, gt_labels, self.num_classes, center_radius
            )
            labels.append(label)
            targets.append(target)
        return torch.stack(labels), torch.stack(targets)

    def get_level_targets(self, data_samples: list, num_frames: int) -> tuple[Tensor, Tensor]:
        """Labels ``(B, P)`` (K = background) and target segments ``(B, P, 2)``.

        ``P`` runs over the positions of all levels, finest first; segments are in
        input frames. See :func:`assign_targets` for the rule.
        """
        if self.window_frames is not None and num_frames != self.window_frames:
            # The levels were checked against window_frames; another length may
            # leave some of them without any positive.
            raise ValueError(
                f'features have {num_frames} frames, but the head was built for '
                f'window_frames={self.window_frames}: set it to the windows it trains on'
            )
        points = self._points(num_frames, torch.device('cpu'))
        return self._assign(data_samples, points, self.center_radius)

    def get_targets(self, data_samples: list, num_frames: int) -> tuple[Tensor, Tensor]:
        """Frame labels ``(B, T)`` and each frame's ground truth ``(B, T, 2)``.

        The online head's frame rule (frame ``i`` belongs to ``[start, end]`` when
        ``start <= i * frame_interval < end``, the shortest ground truth wins), so
        ASBA measures both heads' per-class difficulty on the same frames.
        """
        frames = torch.arange(num_frames, dtype=torch.float32)
        whole_window = torch.tensor([[0.0, math.inf]]).expand(num_frames, 2)
        return self._assign(data_samples, (frames, torch.ones(num_frames), whole_window), None)

    def loss(self, feats: Tensor, data_samples: list) -> dict[str, Tensor]:
        """Focal classification and IoU-family regression losses.

        Both are averaged over the positive positions of the batch.

        Args:
            feats (Tensor): Per-frame features ``(B, C, T)``.
            data_samples (list[ActionDataSample]): Ground truth per window.

        Returns:
            dict[str, Tensor]: ``loss_cls`` and ``loss_reg``.
        """
        _, cls_logits, distances = self(feats)
        num_frames = feats.size(-1)
        labels, targets = self.get_level_targets(data_samples, num_frames)
        labels = labels.to(feats.device).flatten()
        targets = targets.to(feats.device).flatten(0, 1)
        positions = self._points(num_frames, feats.device)[0].repeat(feats.size(0))
        cls_flat = self._flatten_levels(cls_logits).flatten(0, 1)
        dist_flat = self._flatten_levels(distances).flatten(0, 1)

        positive = labels < self.num_classes
        num_positive = max(int(positive.sum()), 1)
        loss_cls = self.loss_cls(cls_flat, labels, avg_factor=num_positive)
        pos_points, pos_dist = positions[positive], dist_flat[positive]
        pred_segments = torch.stack(
            [pos_points - pos_dist[:, 0], pos_points + pos_dist[:, 1]], dim=1
        )
        loss_reg = self.loss_reg(pred_segments, targets[positive], avg_factor=num_positive)
        return dict(loss_cls=loss_cls, loss_reg=loss_reg)

    # ------------------------------------------------------------------ predict
    def predict(self, feats: Tensor, data_samples: list) -> list[InstanceData]:
        """Segments per window in absolute native frames.

        Args:
            feats (Tensor): Per-frame features ``(B, C, T)``.
            data_samples (list[ActionDataSample]): Metainfo ``window_start_frame`` and
                ``frame_interval`` per window.

        Returns:
            list[InstanceData]: ``segments (M, 2)``, ``labels (M,)``, ``scores (M,)``,
            best first.
        """
        return self.predict_with_frame_scores(feats, data_samples)[0]

    def predict_with_frame_scores(
        self, feats: Tensor, data_samples: list
    ) -> tuple[list[InstanceData], Tensor]:
        """:meth:`predict`, plus the highest class probability per frame.

        Returns:
            tuple[list[InstanceData], Tensor]: The segments per window and frame
            scores ``(B, T)`` (from the frame logits of :meth:`forward`) for score
            traces.
        """
        frame_logits, cls_logits, distances = self(feats)
        num_frames = feats.size(-1)
        positions = self._points(num_frames, feats.device)[0]
        cls_scores = self._flatten_levels(cls_logits).sigmoid().detach()
        dist_flat = self._flatten_levels(distances).detach()
        results = [
            self._decode_window(scores, dist, positions, sample, num_frames)
            for scores, dist, sample in zip(cls_scores, dist_flat, data_samples)
        ]
        return results, frame_logits.sigmoid().amax(dim=1).detach()

    def _decode_window(
        self, cls_scores: Tensor, distances: Tensor, positions: Tensor, sample, num_frames: int
    ) -> InstanceData:
        cfg = self.test_cfg
        interval = int(sample.metainfo.get('frame_interval', 1))
        offset = float(sample.metainfo.get('window_start_frame', 0))
        segments, scores, labels = top_candidates(
            cls_scores.float(),
            distances.float(),
            positions,
            cfg['score_thr'],
            cfg['pre_nms_topk'],
            cfg['min_duration_frames'] / interval,
        )
        segments, scores, labels = suppress(
            segments,
            scores,
            labels,
            cfg['nms'],
            cfg['nms_iou_thr'],
            cfg['sigma'],
            cfg['min_score'],
            cfg['voting_iou_thr'],
            cfg['nms_class_agnostic'],
            cfg['max_per_window'],
        )
        # Input frames [a, b] -> native [a * interval, b * interval] + window start,
        # as for the online head; nothing is reported outside the window.
        segments = segments.clamp(0, num_frames) * interval + offset
        return InstanceData(
            segments=segments.float().cpu().reshape(-1, 2),
            labels=labels.long().cpu(),
            scores=scores.float().cpu(),
        )
