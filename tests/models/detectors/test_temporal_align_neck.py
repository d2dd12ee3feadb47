import pytest
import torch
from mmaction.registry import MODELS

import mmstda  # noqa: F401  (registers the components)


def test_nearest_alignment_repeats_each_step_over_its_frames():
    neck = MODELS.build(dict(type='TemporalAlignNeck'))
    # (B=1, C=1, T'=3, H'=2, W'=2): step t has mean value t.
    feats = torch.arange(3.0).view(1, 1, 3, 1, 1).expand(1, 1, 3, 2, 2)
    assert neck(feats, num_frames=6).tolist() == [[[0.0, 0.0, 1.0, 1.0, 2.0, 2.0]]]


def test_max_pooling_and_linear_alignment():
    neck = MODELS.build(dict(type='TemporalAlignNeck', spatial_pool='max', align='linear'))
    feats = torch.zeros(1, 1, 2, 2, 2)
    feats[0, 0, 1, 1, 1] = 4.0  # step 1 has max 4, step 0 max 0
    # align_corners=False: frames 0-3 sit at steps -0.25, 0.25, 0.75, 1.25 (clamped).
    assert neck(feats, num_frames=4).tolist() == [[[0.0, 1.0, 3.0, 4.0]]]


def test_max_pooling_keeps_a_lone_salient_token_undiluted():
    # The demo's case: one token (the hand) of a 4x4 grid carries a feature the 15
    # background tokens lack; its value survives max pooling whole, average
    # pooling divides it by 16.
    feats = torch.zeros(1, 3, 1, 4, 4)
    feats[0, :, 0, 2, 1] = torch.tensor([0.9, 0.1, 0.5])
    pooled_max = MODELS.build(dict(type='TemporalAlignNeck', spatial_pool='max'))(feats, 1)
    pooled_avg = MODELS.build(dict(type='TemporalAlignNeck', spatial_pool='avg'))(feats, 1)
    torch.testing.assert_close(pooled_max[0, :, 0], torch.tensor([0.9, 0.1, 0.5]))
    torch.testing.assert_close(pooled_avg[0, :, 0], torch.tensor([0.9, 0.1, 0.5]) / 16)


def test_last_stage_of_a_tuple_is_used():
    neck = MODELS.build(dict(type='TemporalAlignNeck'))
    stages = (torch.zeros(1, 2, 4, 1, 1), torch.ones(1, 3, 4, 1, 1))
    assert neck(stages, num_frames=4).shape == (1, 3, 4)


def test_bad_arguments_and_shapes_raise():
    with pytest.raises(ValueError, match="align must be 'nearest' or 'linear', got 'cubic'"):
        MODELS.build(dict(type='TemporalAlignNeck', align='cubic'))
    neck = MODELS.build(dict(type='TemporalAlignNeck'))
    with pytest.raises(ValueError, match=r'got \(1, 2, 3, 4\)'):
        neck(torch.zeros(1, 2, 3, 4), num_frames=3)
