import math

import numpy as np
import pytest
import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.structures import InstanceData

from mmstda.utils.class_balance import class_balanced_weights


def _head(**kwargs):
    cfg = dict(type='OnlineTADHead', in_channels=8, num_classes=3, feat_channels=16, num_layers=3)
    cfg.update(kwargs)
    head = MODELS.build(cfg)
    head.init_weights()
    return head.eval()


def _sample(segments, labels, frame_interval=1, window_start_frame=0):
    sample = ActionDataSample()
    sample.gt_instances = InstanceData(
        segments=torch.tensor(segments, dtype=torch.float32).reshape(-1, 2),
        labels=torch.tensor(labels, dtype=torch.long),
    )
    sample.set_metainfo(
        dict(video_id='v', frame_interval=frame_interval, window_start_frame=window_start_frame)
    )
    return sample


def test_causal_head_ignores_future_frames():
    torch.manual_seed(0)
    head = _head()
    feats = torch.randn(2, 8, 24)
    perturbed = feats.clone()
    perturbed[..., 10:] += 5 * torch.randn(2, 8, 14)
    cls_a, bnd_a = head(feats)
    cls_b, bnd_b = head(perturbed)
    assert torch.equal(cls_a[..., :10], cls_b[..., :10])
    assert torch.equal(bnd_a[..., :10], bnd_b[..., :10])
    assert not torch.allclose(cls_a[..., 10:], cls_b[..., 10:])


def test_non_causal_head_uses_future_frames():
    torch.manual_seed(0)
    head = _head(causal=False)
    feats = torch.randn(1, 8, 24)
    perturbed = feats.clone()
    perturbed[..., 10:] += 5
    assert not torch.allclose(head(feats)[0][..., 9], head(perturbed)[0][..., 9])


def test_forward_stream_equals_forward_with_constant_state():
    torch.manual_seed(0)
    head = _head()
    feats = torch.randn(2, 8, 40)
    cls_full, bnd_full = head(feats)
    state, outputs, state_sizes = None, [], []
    for start in range(0, 40, 5):
        cls, bnd, state = head.forward_stream(feats[..., start : start + 5], state)
        outputs.append((cls, bnd))
        state_sizes.append(sum(s.numel() for s in state))
    torch.testing.assert_close(torch.cat([o[0] for o in outputs], -1), cls_full, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.cat([o[1] for o in outputs], -1), bnd_full, atol=1e-5, rtol=0)
    # (kernel 3 - 1) * dilation 1, 2, 4 frames of 16 channels, for 2 videos.
    assert state_sizes == [2 * 16 * (2 + 4 + 8)] * 8


def test_forward_stream_refuses_a_non_causal_head():
    with pytest.raises(RuntimeError, match='causal=True'):
        _head(causal=False).forward_stream(torch.zeros(1, 8, 4))


def test_targets_follow_frame_interval_and_skip_window_edges():
    head = _head(boundary_radius=0)
    # Window of 8 frames at interval 2 covers native offsets 0, 2, ..., 14.
    sample = _sample([[4, 10], [0, 3]], [1, 2], frame_interval=2)
    labels, boundaries = head.get_targets([sample], num_frames=8)
    # [4, 10) holds offsets 4, 6, 8 (frames 2-4); [0, 3) holds offsets 0, 2 (frames 0-1).
    assert labels[0].tolist() == [2, 2, 1, 1, 1, 3, 3, 3]
    # Starts: frame 2 (the other GT starts on the window edge). Ends: frame 4 and frame 1.
    assert boundaries[0, :, 0].tolist() == [0, 0, 1, 0, 0, 0, 0, 0]
    assert boundaries[0, :, 1].tolist() == [0, 1, 0, 0, 1, 0, 0, 0]


def test_targets_reject_out_of_range_labels():
    with pytest.raises(ValueError, match=r'gt label 3 of video v is outside \[0, 3\)'):
        _head().get_targets([_sample([[0, 4]], [3])], num_frames=8)


def test_loss_gives_finite_positive_classification_and_boundary_losses():
    torch.manual_seed(0)
    head = _head().train()
    sample = _sample([[2, 6]], [1])
    losses = head.loss(torch.randn(1, 8, 8), [sample])
    assert set(losses) == {'loss_cls', 'loss_boundary'}
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())


def test_class_counts_set_a_checkpointed_buffer_that_weights_the_loss():
    torch.manual_seed(0)
    feats = torch.randn(1, 8, 8)
    sample = _sample([[2, 6]], [2])
    head = _head(class_balanced=True, cb_beta=0.9).train()
    plain = head.loss(feats, [sample])['loss_cls']
    head.set_class_counts([100, 10, 1])
    # By hand: E_n = (1 - 0.9^n) / 0.1 = 9.99973, 6.5132, 1; weights 1 / E_n
    # scaled so that 100 w_0 + 10 w_1 + 1 w_2 = 111.
    expected = np.array([0.885501, 1.359509, 8.854778])
    np.testing.assert_allclose(head.state_dict()['class_weights'].numpy(), expected, rtol=1e-5)
    weighted = head.loss(feats, [sample])['loss_cls']
    assert weighted > plain  # class 2 is the rarest, so its frames weigh more
    with pytest.raises(ValueError, match='expects 3 counts, got 2'):
        head.set_class_counts([1, 2])


def test_class_balanced_loss_keeps_the_foreground_share_of_the_loss():
    # Normalised over classes (Cui et al.), the weights of a long tail average
    # far below 1 over the gestures: the background (weight 1) then dominates
    # and the head learned to detect nothing. Over the training gestures the
    # mean weight must stay 1 while rarer classes weigh more.
    counts = [27, 26, 10, 7, 7, 4, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1]
    head = _head(num_classes=len(counts), class_balanced=True)
    head.set_class_counts(counts)
    weights = head.class_weights.double().numpy()
    assert float(np.dot(counts, weights)) == pytest.approx(sum(counts), rel=1e-6)
    assert np.all(np.diff(weights) >= -1e-9)  # counts fall, weights rise
    assert weights[-1] > 1.0 > weights[0]


def test_class_balanced_weights_normalisations():
    counts = [100, 10, 1]
    per_class = class_balanced_weights(counts, beta=0.9)
    assert per_class.sum() == pytest.approx(3.0)
    per_instance = class_balanced_weights(counts, beta=0.9, normalise='instances')
    assert float(np.dot(counts, per_instance)) == pytest.approx(111.0)
    np.testing.assert_allclose(per_instance / per_class, per_instance[0] / per_class[0])
    with pytest.raises(ValueError, match="normalise must be one of .*'gestures'"):
        class_balanced_weights(counts, normalise='gestures')


def test_focal_loss_matches_hand_value():
    loss = MODELS.build(dict(type='SigmoidFocalLoss', gamma=2.0, alpha=0.25, reduction='sum'))
    # logit 0 -> p = 0.5; positive: 0.25 * (1 - 0.5)^2 * ln 2; negative: 0.75 * 0.5^2 * ln 2.
    value = loss(torch.zeros(1, 2), torch.tensor([0]))
    assert value.item() == pytest.approx((0.25 + 0.75) * 0.25 * math.log(2))
    background = loss(torch.zeros(1, 2), torch.tensor([2]))
    assert background.item() == pytest.approx(2 * 0.75 * 0.25 * math.log(2))


def test_predict_gives_absolute_native_frames():
    head = _head(test_cfg=dict(score_thr=0.5, min_duration_frames=4))
    cls = torch.zeros(1, 3, 8)
    cls[0, 2, 1:5] = 0.8  # frames 1-4
    cls[0, 0, 6] = 0.9  # one frame: 2 native frames < min_duration_frames 4
    sample = _sample([], [], frame_interval=2, window_start_frame=100)
    (pred,) = head.predict_by_scores(cls, torch.zeros(1, 2, 8), [sample])
    assert pred.segments.tolist() == [[102.0, 110.0]]
    assert pred.labels.tolist() == [2]
    assert pred.scores.tolist() == [pytest.approx(0.8)]


def test_unknown_test_cfg_key_is_rejected():
    with pytest.raises(ValueError, match=r"unknown test_cfg keys \['score_threshold'\]"):
        _head(test_cfg=dict(score_threshold=0.2))
