import pytest
import torch

import mmstda  # noqa: F401
from mmstda.models.backbones import DecoupledAdapterViT

TINY = dict(img_size=32, patch_size=8, embed_dims=32, depth=2, num_heads=2, num_frames=4)


def randomized_causal_model(**extra) -> DecoupledAdapterViT:
    torch.manual_seed(0)
    model = DecoupledAdapterViT(**{**TINY, 'causal': True, 'return_feat_map': True, **extra})
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if '.adapter.' in name:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.3)
    return model.eval()


@pytest.mark.parametrize(
    'extra',
    [
        dict(adapter_type='stda'),
        dict(adapter_type='stda', stda_fusion='cross'),
        dict(adapter_type='temporal'),
        dict(adapter_type='joint'),
        dict(adapter_type='stda', adapter_temporal_kernel=5, adapter_index=[1]),
        # One token step per clip: the cache spans more than one previous clip.
        dict(adapter_type='stda', num_frames=2),
    ],
)
def test_stream_equals_offline_window(extra):
    model = randomized_causal_model(**extra)
    clip_frames = model.num_frames
    x = torch.randn(2, 3, 4 * clip_frames, 32, 32)
    with torch.no_grad():
        offline = model(x)
        cache, feats = None, []
        for start in range(0, x.shape[2], clip_frames):
            feat, cache = model.forward_stream(x[:, :, start : start + clip_frames], cache)
            feats.append(feat)
    assert feats[0].shape == (2, 32, clip_frames // 2, 4, 4)
    torch.testing.assert_close(torch.cat(feats, dim=2), offline, atol=1e-4, rtol=0)


@pytest.mark.parametrize(
    'extra', [dict(adapter_type='stda'), dict(adapter_type='stda', num_frames=2)]
)
def test_several_clips_per_call_equal_one_clip_per_call(extra):
    # What a recognizer does when frames are waiting: cut the stream 1 + 3 + 2
    # clips instead of 6 times one; features and the cache carried on must not change.
    model = randomized_causal_model(**extra)
    clip_frames = model.num_frames
    x = torch.randn(2, 3, 6 * clip_frames, 32, 32)
    with torch.no_grad():
        cache, one_by_one = None, []
        for start in range(0, x.shape[2], clip_frames):
            feat, cache = model.forward_stream(x[:, :, start : start + clip_frames], cache)
            one_by_one.append(feat)
        cache_cut, cut = None, []
        for first, last in ((0, 1), (1, 4), (4, 6)):
            frames = x[:, :, first * clip_frames : last * clip_frames]
            feat, cache_cut = model.forward_stream(frames, cache_cut)
            cut.append(feat)
    torch.testing.assert_close(
        torch.cat(cut, dim=2), torch.cat(one_by_one, dim=2), atol=1e-5, rtol=0
    )
    for a, b in zip(cache_cut, cache):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_stream_cache_has_constant_size():
    model = randomized_causal_model()
    cache, sizes = None, []
    with torch.no_grad():
        for _ in range(4):
            _, cache = model.forward_stream(torch.randn(1, 3, 4, 32, 32), cache)
            sizes.append([tuple(c.shape) for c in cache])
    assert sizes[0] == sizes[-1]
    # One entry per adapter: the last k_t - 1 = 2 bottleneck steps, r = 8 channels.
    assert sizes[0] == [(1, 8, 2, 4, 4)] * 2


def test_stream_returns_feature_map_even_when_pooling():
    model = randomized_causal_model(return_feat_map=False)
    with torch.no_grad():
        feat, _ = model.forward_stream(torch.randn(1, 3, 4, 32, 32))
    assert feat.shape == (1, 32, 2, 4, 4)


def test_stream_errors_are_explicit():
    with pytest.raises(ValueError, match='forward_stream needs causal=True'):
        DecoupledAdapterViT(**TINY).forward_stream(torch.randn(1, 3, 4, 32, 32))
    model = randomized_causal_model()
    with pytest.raises(
        ValueError, match=r'whole clips, of shape \(B, C, n \* 4, H, W\), got \(1, 3, 6, 32, 32\)'
    ):
        model.forward_stream(torch.randn(1, 3, 6, 32, 32))
    with torch.no_grad():
        _, cache = model.forward_stream(torch.randn(1, 3, 4, 32, 32))
        with pytest.raises(ValueError, match='adapter cache has shape'):
            model.forward_stream(torch.randn(2, 3, 4, 32, 32), cache)
        with pytest.raises(ValueError, match='cache has 1 entries, expected 2'):
            model.forward_stream(torch.randn(1, 3, 4, 32, 32), cache[:1])
