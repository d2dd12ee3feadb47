"""Target assignment of AnchorFreeTADHead on hand-made segments."""

import math
import os.path as osp

import pytest
import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.config import Config
from mmengine.structures import InstanceData

import mmstda  # noqa: F401  (registers the components)
from mmstda.models.heads.anchor_free import assign_targets, level_positions

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

K = 3  # classes; label 3 is background
BG = K


def _single_level(num_frames: int):
    positions = torch.arange(num_frames, dtype=torch.float32)
    strides = torch.ones(num_frames)
    ranges = torch.tensor([[0.0, math.inf]]).expand(num_frames, 2)
    return positions, strides, ranges


def _three_levels(num_frames: int = 16):
    strides = (1, 2, 4)
    ranges = ((0.0, 4.0), (4.0, 8.0), (8.0, math.inf))
    positions = level_positions(num_frames, strides)
    point_strides = torch.cat([torch.full_like(p, s) for p, s in zip(positions, strides)])
    point_ranges = torch.cat(
        [torch.tensor([r]).expand(len(p), 2) for p, r in zip(positions, ranges)]
    )
    return positions, point_strides, point_ranges


def _labels_by_level(labels: torch.Tensor, positions: list) -> list[list[int]]:
    out, start = [], 0
    for p in positions:
        out.append(labels[start : start + len(p)].tolist())
        start += len(p)
    return out


def test_level_positions_sit_at_the_centre_of_the_pooled_frames():
    assert [p.tolist() for p in level_positions(8, (1, 2, 4))] == [
        [0, 1, 2, 3, 4, 5, 6, 7],
        [0.5, 2.5, 4.5, 6.5],
        [1.5, 5.5],
    ]
    # A partial last cell still counts: 7 frames at stride 4 -> 2 positions.
    assert [len(p) for p in level_positions(7, (1, 4))] == [7, 2]


def test_short_gesture_is_learnt_by_the_finest_level_only():
    positions, strides, ranges = _three_levels()
    labels, targets = assign_targets(
        torch.cat(positions),
        strides,
        ranges,
        torch.tensor([[2.0, 6.0]]),
        torch.tensor([1]),
        K,
        center_radius=None,
    )
    level0, level1, level2 = _labels_by_level(labels, positions)
    # Frame 2 reaches 4 frames to the end: outside [0, 4) of level 0; frames 3-5 reach < 4.
    assert [i for i, v in enumerate(level0) if v != BG] == [3, 4, 5]
    assert all(v == 1 for v in level0[3:6])
    # Positions 2.5, 4.5 (level 1) and 5.5 (level 2) reach 3.5, 2.5, 3.5 < 4.
    assert level1 == [BG] * 8 and level2 == [BG] * 4
    assert targets[3].tolist() == [2.0, 6.0]
    assert targets[0].tolist() == [0.0, 0.0]  # background


def test_long_gesture_is_learnt_by_the_coarse_level_and_centre_sampling_narrows_it():
    positions, strides, ranges = _three_levels()
    gt, label = torch.tensor([[0.0, 16.0]]), torch.tensor([2])
    labels, _ = assign_targets(torch.cat(positions), strides, ranges, gt, label, K, None)
    level0, level1, level2 = _labels_by_level(labels, positions)
    # Every position of a 16-frame gesture reaches >= 8 frames: level 2 only.
    assert level0 == [BG] * 16 and level1 == [BG] * 8 and level2 == [2, 2, 2, 2]
    # Radius 1.5 strides of 4 around the centre 8: [2, 14] keeps 5.5, 9.5 and 13.5.
    labels, _ = assign_targets(torch.cat(positions), strides, ranges, gt, label, K, 1.5)
    assert _labels_by_level(labels, positions)[2] == [BG, 2, 2, 2]


def test_centre_sampling_radius_on_a_single_level():
    positions, strides, ranges = _single_level(12)
    gt, label = torch.tensor([[0.0, 10.0]]), torch.tensor([0])
    labels, _ = assign_targets(positions, strides, ranges, gt, label, K, center_radius=1.5)
    # Centre 5, radius 1.5 frames: positions 4, 5, 6.
    assert torch.nonzero(labels != BG).flatten().tolist() == [4, 5, 6]
    labels, _ = assign_targets(positions, strides, ranges, gt, label, K, center_radius=None)
    # Without centre sampling: start <= p < end.
    assert torch.nonzero(labels != BG).flatten().tolist() == list(range(10))


def test_overlapping_gestures_the_shortest_wins_then_the_first():
    positions, strides, ranges = _single_level(14)
    gts = torch.tensor([[2.0, 12.0], [4.0, 8.0], [4.0, 8.0]])
    labels, targets = assign_targets(
        positions, strides, ranges, gts, torch.tensor([2, 0, 1]), K, center_radius=None
    )
    expected = [BG, BG, 2, 2, 0, 0, 0, 0, 2, 2, 2, 2, BG, BG]
    assert labels.tolist() == expected
    assert targets[5].tolist() == [4.0, 8.0] and targets[9].tolist() == [2.0, 12.0]


def test_no_ground_truth_gives_background_everywhere():
    positions, strides, ranges = _single_level(5)
    labels, targets = assign_targets(
        positions, strides, ranges, torch.zeros(0, 2), torch.zeros(0, dtype=torch.long), K
    )
    assert labels.tolist() == [BG] * 5 and not targets.any()


def _head(**kwargs):
    cfg = dict(
        type='AnchorFreeTADHead',
        in_channels=8,
        num_classes=K,
        feat_channels=8,
        strides=(1, 2, 4),
        regress_ranges=((0, 4), (4, 8), (8, math.inf)),
        center_radius=None,
    )
    return MODELS.build({**cfg, **kwargs})


def _sample(segments, labels, frame_interval=2):
    sample = ActionDataSample()
    sample.gt_instances = InstanceData(
        segments=torch.tensor(segments, dtype=torch.float32).reshape(-1, 2),
        labels=torch.tensor(labels, dtype=torch.long),
    )
    sample.set_metainfo(dict(video_id='v', frame_interval=frame_interval))
    return sample


def test_head_targets_divide_native_frames_by_the_frame_interval():
    # Native [4, 12] at frame_interval 2 is input frames [2, 6]: positives 3, 4, 5.
    labels, targets = _head().get_level_targets([_sample([[4.0, 12.0]], [1])], num_frames=16)
    assert labels.shape == (1, 16 + 8 + 4)
    assert torch.nonzero(labels[0] != BG).flatten().tolist() == [3, 4, 5]
    assert targets[0, 4].tolist() == [2.0, 6.0]


def test_frame_labels_follow_the_online_head_rule():
    # ASBA's probe reads frame labels from either head: they must be the same frames.
    samples = [
        _sample([[3.0, 19.0], [6.0, 10.0]], [2, 0]),  # overlapping: the shorter wins
        _sample([[0.0, 5.0], [25.0, 32.0]], [1, 2], frame_interval=1),
        _sample([], []),
    ]
    online = MODELS.build(dict(type='OnlineTADHead', in_channels=8, num_classes=K))
    expected = online.get_targets(samples, num_frames=16)[0]
    labels, segments = _head().get_targets(samples, num_frames=16)
    assert torch.equal(labels, expected)
    # Interval 2: frame i is native 2i. [3, 19] holds frames 2-9, the shorter
    # [6, 10] (input frames [3, 5]) frames 3 and 4, which it wins.
    assert labels[0, :10].tolist() == [BG, BG, 2, 0, 0, 2, 2, 2, 2, 2]
    assert segments[0, 3].tolist() == [3.0, 5.0]


def test_head_rejects_an_out_of_range_label_naming_the_video():
    with pytest.raises(ValueError, match=r'gt label 3 of video v is outside \[0, 3\)'):
        _head().get_targets([_sample([[0.0, 4.0]], [3])], num_frames=8)


def test_head_rejects_mismatched_strides_and_ranges():
    with pytest.raises(ValueError, match='one regression range per stride'):
        _head(regress_ranges=((0, 4), (4, math.inf)))
    with pytest.raises(ValueError, match='larger multiple'):
        _head(strides=(1, 3, 4))


def test_default_regress_ranges_are_actionformers_four_strides():
    from mmstda.models.heads.anchor_free import default_regress_ranges

    assert default_regress_ranges((1, 2, 4, 8, 16, 32)) == (
        (0, 4),
        (4, 8),
        (8, 16),
        (16, 32),
        (32, 64),
        (64, math.inf),
    )
    assert default_regress_ranges((2, 4, 8)) == ((0, 8), (8, 16), (16, math.inf))
    assert default_regress_ranges((4,)) == ((0, math.inf),)
    head = _head(strides=(2, 4, 8), regress_ranges=None)
    assert head.regress_ranges == ((0, 8), (8, 16), (16, math.inf))


def _brute_force_max_reach(window_frames, stride, center_radius):
    """Largest reach of a positive over every ground truth with whole-frame ends."""
    positions = level_positions(window_frames, (stride,))[0]
    strides = torch.full_like(positions, stride)
    ranges = torch.tensor([[0.0, math.inf]]).expand(len(positions), 2)
    best = 0.0
    for a in range(window_frames):
        for b in range(a + 1, window_frames + 1):
            labels, _ = assign_targets(
                positions,
                strides,
                ranges,
                torch.tensor([[a, b]]),
                torch.tensor([0]),
                1,
                center_radius,
            )
            p = positions[labels == 0]
            if p.numel():
                best = max(best, float(torch.maximum(p - a, b - p).max()))
    return best


@pytest.mark.parametrize(
    'window_frames, stride, center_radius, expected',
    [
        # Stride 32 in 64 frames: positions 15.5 and 47.5. [0, 64] holds 15.5 with
        # its centre 16.5 away (within 48): reach 64 - 15.5.
        (64, 32, 1.5, 48.5),
        (64, 32, None, 48.5),
        # Stride 4 in 16 frames, radius 0.5 (2 frames): position 5.5 and [0, 15],
        # centre 7.5: reach 9.5; [0, 16] would put the centre 2.5 away.
        (16, 4, 0.5, 9.5),
        # Stride 8 in 16 frames: positions 3.5 and 11.5; [0, 16] and 3.5: 12.5.
        (16, 8, 1.5, 12.5),
    ],
)
def test_level_max_reach_by_hand_and_by_brute_force(window_frames, stride, center_radius, expected):
    from mmstda.models.heads.anchor_free import level_max_reach

    assert level_max_reach(window_frames, stride, center_radius) == expected
    assert _brute_force_max_reach(window_frames, stride, center_radius) == expected


def test_head_refuses_a_level_no_window_can_train():
    # ActionFormer's pyramid in a 64-frame window: stride 32's (64, inf) is out of
    # reach (at most 48.5 frames, see above).
    with pytest.raises(
        ValueError,
        match=r'regress_ranges\[5\] = \(64, inf\) of stride 32 can never hold a positive in a '
        r'window of window_frames=64 .* at most 48\.5 frames',
    ):
        _head(
            strides=(1, 2, 4, 8, 16, 32),
            regress_ranges=None,
            center_radius=1.5,
            window_frames=64,
        )
    # The same pyramid fits a longer window: stride 32 reaches 128 - 15.5 in 128.
    _head(strides=(1, 2, 4, 8, 16, 32), regress_ranges=None, window_frames=128)
    with pytest.raises(ValueError, match='window_frames must be a positive integer'):
        _head(window_frames=0)


def test_head_refuses_features_of_another_window_length_in_training():
    head = _head(window_frames=16)
    head.get_level_targets([_sample([[4.0, 12.0]], [1])], num_frames=16)
    with pytest.raises(ValueError, match='features have 24 frames.*window_frames=16'):
        head.get_level_targets([_sample([[4.0, 12.0]], [1])], num_frames=24)


def _mean_positives_per_level(head, window_frames, interval, native_length):
    """Positives per level of one gesture, averaged over its whole-frame starts."""
    span = window_frames * interval
    starts = range(0, span - native_length + 1)
    samples = [_sample([[a, a + native_length]], [0], interval) for a in starts]
    labels, _ = head.get_level_targets(samples, window_frames)
    counts, begin = [], 0
    for positions in level_positions(window_frames, head.strides):
        level = labels[:, begin : begin + len(positions)]
        counts.append(float((level != head.num_classes).sum(1).float().mean()))
        begin += len(positions)
    return counts


@pytest.mark.parametrize(
    'config, native_lengths, mean_length, mean_strides',
    [
        # The demo's gestures (mmstda/datasets/synthetic_smg.py): mean 51 native
        # frames, sd 10.2, clipped to [28, 81]; its window is 64 frames at
        # frame_interval 2. A mean gesture is 25.5 input frames: its positions
        # reach 12.75 frames plus their distance to its centre (up to 1.5 strides),
        # which is inside (8, 16) on stride 4 and (16, inf) on stride 8, never
        # under 8 on stride 2.
        ('configs/stda-afhead_demo.py', (28, 40, 51, 62, 81), 51, {4, 8}),
        # SMG: mean 51.3 native frames (about 1.8 s), a 64-frame window at
        # frame_interval 1; a gesture as long as the window stands for the longer
        # ones it cuts. A mean gesture reaches 25.5 plus up to 12 on stride 8
        # (16, 32) and up to 24 on stride 16 (32, inf), never under 16 on stride 4.
        (
            'configs/stda-afhead_vit-g-p14_videomaev2-pre_1xb4-20e_smg.py',
            (15, 25, 51, 64),
            51,
            {8, 16},
        ),
    ],
)
def test_config_pyramid_gives_every_level_positives_on_typical_gestures(
    config, native_lengths, mean_length, mean_strides
):
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    window_frames = cfg.train_dataloader.dataset.window_frames
    interval = cfg.train_dataloader.dataset.frame_interval
    head = MODELS.build(dict(cfg.model.head.to_dict(), in_channels=8, feat_channels=8))
    per_length = {
        length: _mean_positives_per_level(head, window_frames, interval, length)
        for length in native_lengths
    }
    for length, counts in per_length.items():
        assert sum(counts) >= 1, f'a {length}-frame gesture gets no positive: {counts}'
    # Every level learns some typical gesture (so none has an unreachable range).
    for level, stride in enumerate(head.strides):
        got = [per_length[length][level] for length in native_lengths]
        assert max(got) > 0, f'stride {stride} gets no positive from {native_lengths}: {got}'
    mean_counts = per_length[mean_length]
    assert {s for s, n in zip(head.strides, mean_counts) if n > 0} == mean_strides
