"""Decoding and (Soft-)NMS of AnchorFreeTADHead on crafted outputs."""

import math

import pytest
import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample

import mmstda  # noqa: F401  (registers the components)
from mmstda.models.heads.anchor_free import top_candidates
from mmstda.structures import batched_nms_1d, segment_voting, soft_nms_1d

# A [0, 10] 0.9; B [5, 15] 0.8 (IoU with A 5/15 = 1/3); C [20, 30] 0.7 (disjoint).
SEGMENTS = torch.tensor([[0.0, 10.0], [5.0, 15.0], [20.0, 30.0]])
SCORES = torch.tensor([0.9, 0.8, 0.7])


def test_soft_nms_decays_overlapping_segments_of_the_same_class():
    keep, scores = soft_nms_1d(SEGMENTS, SCORES, torch.tensor([0, 0, 0]), sigma=0.5)
    # B: 0.8 * exp(-(1/3)**2 / 0.5) = 0.8 * exp(-2/9) = 0.64059 < C's 0.7.
    assert keep.tolist() == [0, 2, 1]
    assert scores.tolist() == pytest.approx([0.9, 0.7, 0.8 * math.exp(-2 / 9)], abs=1e-6)


def test_soft_nms_leaves_other_classes_alone_unless_class_agnostic():
    labels = torch.tensor([0, 1, 0])
    keep, scores = soft_nms_1d(SEGMENTS, SCORES, labels, sigma=0.5)
    assert keep.tolist() == [0, 1, 2] and scores.tolist() == pytest.approx([0.9, 0.8, 0.7])
    keep, _ = soft_nms_1d(SEGMENTS, SCORES, labels, sigma=0.5, class_agnostic=True)
    assert keep.tolist() == [0, 2, 1]


def test_soft_nms_drops_decayed_scores_below_min_score_and_caps_the_count():
    duplicate = torch.tensor([[0.0, 10.0], [0.0, 10.0]])
    # IoU 1: 0.5 * exp(-1 / 0.5) = 0.0677.
    keep, _ = soft_nms_1d(duplicate, torch.tensor([0.9, 0.5]), torch.zeros(2), 0.5, 0.07)
    assert keep.tolist() == [0]
    keep, scores = soft_nms_1d(duplicate, torch.tensor([0.9, 0.5]), torch.zeros(2), 0.5, 0.06)
    assert keep.tolist() == [0, 1] and scores[1].item() == pytest.approx(0.5 * math.exp(-2))
    keep, _ = soft_nms_1d(SEGMENTS, SCORES, torch.zeros(3), 0.5, max_num=2)
    assert keep.tolist() == [0, 2]
    keep, scores = soft_nms_1d(torch.zeros(0, 2), torch.zeros(0), torch.zeros(0))
    assert keep.numel() == 0 and scores.numel() == 0


def test_voting_averages_agreeing_boundaries_by_score():
    kept = torch.tensor([[0.0, 10.0]])
    candidates = torch.tensor([[0.0, 10.0], [2.0, 12.0], [20.0, 30.0]])
    scores = torch.tensor([0.9, 0.3, 0.8])
    # [2, 12] has IoU 8/12 with [0, 10]: start (0*0.9 + 2*0.3)/1.2, end (9 + 3.6)/1.2.
    refined = segment_voting(kept, torch.tensor([0]), candidates, scores, torch.zeros(3), 0.6)
    assert refined.tolist() == [pytest.approx([0.5, 10.5])]
    # At a stricter threshold only the segment itself votes.
    refined = segment_voting(kept, torch.tensor([0]), candidates, scores, torch.zeros(3), 0.7)
    assert refined.tolist() == [[0.0, 10.0]]


# Saturated (tied) scores; (start, end, label, score). Each block is far from the others.
TIED = [
    # label 0: [2, 6) and [1, 6) tie at tIoU 4/5: the earlier start [1, 6) wins.
    (2, 6, 0, 1.0),
    (1, 6, 0, 1.0),
    # label 1: [10, 15) and [10, 14) tie at tIoU 4/5: the shorter [10, 14) wins.
    (10, 15, 1, 1.0),
    (10, 14, 1, 1.0),
    # label 2: a chain, neighbours at tIoU 3/5, ends at 2/6. The earliest start
    # [20, 24) wins, suppresses [21, 25), which so cannot suppress [22, 26).
    (22, 26, 2, 1.0),
    (21, 25, 2, 1.0),
    (20, 24, 2, 1.0),
    # labels 4 and 3 on one span: kept both, unless class-agnostic (label 3 wins).
    (30, 35, 4, 1.0),
    (30, 35, 3, 1.0),
    # label 5: a higher score beats the earlier start.
    (40, 46, 5, 0.9),
    (41, 46, 5, 1.0),
]


def _tensors(candidates):
    segments = torch.tensor([[s, e] for s, e, _, _ in candidates], dtype=torch.float32)
    labels = torch.tensor([label for _, _, label, _ in candidates])
    scores = torch.tensor([score for _, _, _, score in candidates])
    return segments, scores, labels


def _permutations(num, count=20):
    generator = torch.Generator().manual_seed(0)
    return [torch.arange(num)] + [torch.randperm(num, generator=generator) for _ in range(count)]


@pytest.mark.parametrize(
    'class_agnostic, expected',
    [
        (
            False,
            {
                (1, 6, 0),  # earlier start beats [2, 6)
                (10, 14, 1),  # shorter beats [10, 15)
                (20, 24, 2),  # earlier start beats [21, 25) ...
                (22, 26, 2),  # ... so [22, 26) survives
                (30, 35, 3),
                (30, 35, 4),  # other label, class-aware: kept
                (41, 46, 5),  # higher score beats the earlier start [40, 46)
            },
        ),
        (
            True,
            {(1, 6, 0), (10, 14, 1), (20, 24, 2), (22, 26, 2), (30, 35, 3), (41, 46, 5)},
        ),
    ],
)
def test_batched_nms_breaks_score_ties_by_start_then_length_then_label(class_agnostic, expected):
    """The kept segments depend on the set of candidates, not on their order."""
    kwargs = dict(class_agnostic=True) if class_agnostic else {}
    for perm in _permutations(len(TIED)):
        candidates = [TIED[i] for i in perm.tolist()]
        segments, scores, labels = _tensors(candidates)
        keep = batched_nms_1d(segments, scores, labels, 0.5, **kwargs)
        kept = {candidates[i][:3] for i in keep.tolist()}
        assert kept == expected, f'input order {perm.tolist()}'


def test_soft_nms_breaks_score_ties_by_start_then_length_then_label():
    """Same kept segments, scores and keeping order under any input order."""
    candidates = [
        (2, 6, 0, 1.0),
        (1, 5, 0, 1.0),
        (0, 4, 0, 1.0),  # a chain: [0, 4) first (earliest start)
        (10, 14, 2, 1.0),
        (10, 14, 1, 1.0),  # one span, two labels: label 1 first
    ]
    # [0, 4) decays [1, 5) (tIoU 3/5) by exp(-0.36 / 0.5) and [2, 6) (2/6) by
    # exp(-(1/3)**2 / 0.5); [2, 6) decays [1, 5) (3/5) once more. Class-agnostic,
    # label 1 decays label 2 (tIoU 1) by exp(-1 / 0.5).
    expected = {
        False: [
            (0, 4, 0, 1.0),
            (10, 14, 1, 1.0),
            (10, 14, 2, 1.0),
            (2, 6, 0, math.exp(-2 / 9)),
            (1, 5, 0, math.exp(-1.44)),
        ],
        True: [
            (0, 4, 0, 1.0),
            (10, 14, 1, 1.0),
            (2, 6, 0, math.exp(-2 / 9)),
            (1, 5, 0, math.exp(-1.44)),
            (10, 14, 2, math.exp(-2)),
        ],
    }
    for class_agnostic, want in expected.items():
        first = None
        for perm in _permutations(len(candidates)):
            permuted = [candidates[i] for i in perm.tolist()]
            segments, scores, labels = _tensors(permuted)
            keep, kept_scores = soft_nms_1d(
                segments, scores, labels, sigma=0.5, class_agnostic=class_agnostic
            )
            got = [(*permuted[i][:3], s) for i, s in zip(keep.tolist(), kept_scores.tolist())]
            assert [g[:3] for g in got] == [w[:3] for w in want], f'input order {perm.tolist()}'
            assert [g[3] for g in got] == pytest.approx([w[3] for w in want], abs=1e-6)
            first = first or got
            assert got == first  # bit for bit


def test_voting_does_not_depend_on_the_candidates_order():
    kept = torch.tensor([[0.0, 10.0]])
    generator = torch.Generator().manual_seed(0)
    candidates = torch.rand(64, 2, generator=generator) + torch.tensor([0.0, 10.0])
    scores = torch.rand(64, generator=generator)
    labels = torch.zeros(64)
    reference = segment_voting(kept, torch.tensor([0]), candidates, scores, labels, 0.5)
    for perm in _permutations(64)[1:]:
        refined = segment_voting(
            kept, torch.tensor([0]), candidates[perm], scores[perm], labels[perm], 0.5
        )
        assert refined.tolist() == reference.tolist()


def test_top_candidates_threshold_topk_and_min_duration():
    cls_scores = torch.tensor([[0.9, 0.05], [0.2, 0.6], [0.3, 0.0]])
    distances = torch.tensor([[1.0, 2.0], [0.5, 0.5], [3.0, 1.0]])
    positions = torch.tensor([4.0, 10.0, 20.0])
    segments, scores, labels = top_candidates(cls_scores, distances, positions, 0.1, 3, 0.0)
    # Above 0.1: (0, c0) 0.9, (1, c1) 0.6, (2, c0) 0.3; (1, c0) 0.2 is 4th, cut by topk.
    assert scores.tolist() == pytest.approx([0.9, 0.6, 0.3])
    assert labels.tolist() == [0, 1, 0]
    assert segments.tolist() == [[3.0, 6.0], [9.5, 10.5], [17.0, 21.0]]
    # min_duration 2 drops the 1-frame segment at position 10.
    _, scores, _ = top_candidates(cls_scores, distances, positions, 0.1, 3, 2.0)
    assert scores.tolist() == pytest.approx([0.9, 0.3])


def _head(**test_cfg):
    head = MODELS.build(
        dict(
            type='AnchorFreeTADHead',
            in_channels=4,
            num_classes=2,
            feat_channels=4,
            strides=(1, 2),
            regress_ranges=((0, 4), (4, math.inf)),
            test_cfg=test_cfg,
        )
    )
    return head


def _crafted(head, cls_probs: list, distances: list, frame_probs: list | None = None):
    """Replace the network by fixed outputs (probabilities, distances)."""

    def forward(feats):
        logits = [torch.logit(torch.tensor(p)).unsqueeze(0) for p in cls_probs]
        frame_logits = torch.logit(torch.tensor(frame_probs or cls_probs[0])).unsqueeze(0)
        return frame_logits, logits, [torch.tensor(d).unsqueeze(0) for d in distances]

    head.forward = forward
    return head


def test_predict_decodes_crafted_outputs_into_native_frames():
    head = _head(nms='hard', voting_iou_thr=None, score_thr=0.1, nms_class_agnostic=True)
    # 4 frames: level 0 positions 0..3, level 1 positions 0.5, 2.5.
    cls_level0 = [[0.0, 0.0, 0.8, 0.0], [0.0, 0.0, 0.0, 0.0]]  # class 0 at frame 2
    cls_level1 = [[0.0, 0.0], [0.5, 0.0]]  # class 1 at position 0.5
    dist_level0 = [[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.5, 0.0]]  # frames [1, 3.5]
    dist_level1 = [[2.0, 0.0], [1.0, 0.0]]  # [-1.5, 1.5] -> clipped to [0, 1.5]
    frame_probs = [[0.5, 0.5, 0.8, 0.0], [0.1, 0.0, 0.0, 0.0]]
    head = _crafted(head, [cls_level0, cls_level1], [dist_level0, dist_level1], frame_probs)
    sample = ActionDataSample()
    sample.set_metainfo(dict(window_start_frame=100, frame_interval=2))
    results, frame_scores = head.predict_with_frame_scores(torch.zeros(1, 4, 4), [sample])
    pred = results[0]
    # Input frames x -> native 100 + 2 x; IoU of [1, 3.5] and [0, 1.5] is 0.5/3.5: both kept.
    assert pred.labels.tolist() == [0, 1]
    assert pred.scores.tolist() == pytest.approx([0.8, 0.5])
    assert pred.segments.tolist() == [[102.0, 107.0], [100.0, 103.0]]
    # Frame scores: the best class probability per frame.
    assert frame_scores[0].tolist() == pytest.approx([0.5, 0.5, 0.8, 0.0])
    assert head.predict(torch.zeros(1, 4, 4), [sample])[0].labels.tolist() == [0, 1]


def test_predict_hard_nms_suppresses_the_weaker_duplicate():
    head = _head(nms='hard', nms_iou_thr=0.5, voting_iou_thr=None, nms_class_agnostic=True)
    cls_level0 = [[0.9, 0.7, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    dist_level0 = [[0.0, 1.0, 0.0, 0.0], [2.0, 1.0, 0.0, 0.0]]  # [0, 2] and [0, 2]
    head = _crafted(
        head, [cls_level0, [[0.0, 0.0], [0.0, 0.0]]], [dist_level0, [[0.0] * 2, [0.0] * 2]]
    )
    sample = ActionDataSample()
    sample.set_metainfo(dict(window_start_frame=0, frame_interval=1))
    pred = head.predict(torch.zeros(1, 4, 4), [sample])[0]
    assert pred.segments.tolist() == [[0.0, 2.0]] and pred.scores.tolist() == pytest.approx([0.9])


def test_frame_logits_take_the_best_level_covering_each_frame():
    torch.manual_seed(0)
    head = _head()
    frame_logits, cls_logits, _ = head(torch.randn(2, 4, 5))
    assert frame_logits.shape == (2, 2, 5)
    for t in range(5):
        # Frame t is covered by position t of stride 1 and position t // 2 of stride 2.
        expected = torch.maximum(cls_logits[0][..., t], cls_logits[1][..., t // 2])
        assert torch.equal(frame_logits[..., t], expected)


def test_unknown_test_cfg_keys_and_methods_are_refused():
    with pytest.raises(ValueError, match=r"unknown test_cfg keys \['iou_thr'\]"):
        _head(iou_thr=0.5)
    with pytest.raises(ValueError, match="nms must be 'soft' or 'hard'"):
        _head(nms='greedy')


@pytest.mark.parametrize('order', [[0, 1], [1, 0]])
def test_class_agnostic_hard_nms_in_the_head_keeps_the_lower_label_on_a_tie(order):
    # Labels 4 and 3 on one span at one saturated score: the tie rule keeps label 3,
    # whichever candidate comes first (the head used to zero the labels first).
    from mmstda.models.heads.anchor_free.decoding import suppress

    segments = torch.tensor([[10.0, 20.0], [10.0, 20.0]])[order]
    labels = torch.tensor([4, 3])[order]
    kept, scores, kept_labels = suppress(
        segments, torch.ones(2), labels, 'hard', 0.5, 0.7, 0.001, None, True, 10
    )
    assert kept.tolist() == [[10.0, 20.0]] and kept_labels.tolist() == [3]
