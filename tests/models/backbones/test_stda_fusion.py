"""STDA's decoupled fusion is not one depthwise kernel; the 'cross' control is."""

import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub

import mmstda  # noqa: F401
from mmstda.models.backbones import DecoupledAdapterViT
from mmstda.models.backbones.adapters import ConvAdapter

TINY = dict(img_size=32, patch_size=8, embed_dims=32, depth=2, num_heads=2, num_frames=4)
GRID = (2, 6, 5, 5)  # (B, T', H', W')
WIDTH = 8


def identity_up_adapter(fusion: str, seed: int = 0) -> ConvAdapter:
    """An STDA adapter whose bottleneck is as wide as its input and whose up
    projection is the identity, so ``out - x`` is the fused bottleneck itself."""
    torch.manual_seed(seed)
    adapter = ConvAdapter(WIDTH, 'stda', ratio=1.0, fusion=fusion).eval()
    with torch.no_grad():
        # O(1) activations, where GELU is far from linear.
        adapter.down_proj.weight.normal_(0.0, 1.0)
        adapter.down_proj.bias.normal_(0.0, 0.5)
        adapter.up_proj.weight.copy_(torch.eye(WIDTH))
        adapter.up_proj.bias.zero_()
    return adapter


def branch_output(adapter: ConvAdapter) -> tuple[torch.Tensor, torch.Tensor]:
    """The bottleneck ``h`` and what the fusion adds to it, both ``(B, r, T', H', W')``."""
    batch, steps, height, width = GRID
    x = torch.randn(
        batch, steps * height * width, WIDTH, generator=torch.Generator().manual_seed(1)
    )
    with torch.no_grad():
        out, _ = adapter(x, batch, (height, width))
        h = adapter.act(adapter.down_proj(x))
    to_grid = lambda t: t.reshape(batch, steps, height, width, WIDTH).permute(0, 4, 1, 2, 3)  # noqa: E731
    return to_grid(h), to_grid(out - x - h)


def best_depthwise_fit_residual(h: torch.Tensor, added: torch.Tensor) -> float:
    """Relative residual of the best depthwise (3, 3, 3) kernel + bias mapping h to added.

    Least squares per channel over all 27 zero-padded neighbours: if any depthwise
    (3,3,3) convolution reproduces the fusion, the residual is at rounding level.
    """
    padded = F.pad(h, (1, 1, 1, 1, 1, 1)).double()
    batch, channels, steps, height, width = h.shape
    taps = [
        padded[:, :, dt : dt + steps, dy : dy + height, dx : dx + width]
        for dt in range(3)
        for dy in range(3)
        for dx in range(3)
    ]
    design = torch.stack(taps + [torch.ones_like(taps[0])], dim=-1)  # (B, r, T, H, W, 28)
    residual, total = 0.0, 0.0
    for c in range(channels):
        a = design[:, c].reshape(-1, 28)
        y = added[:, c].reshape(-1, 1).double()
        solution = torch.linalg.lstsq(a, y).solution
        residual += float((a @ solution - y).square().sum())
        total += float((y - y.mean()).square().sum())
    return (residual / total) ** 0.5


def test_cross_fusion_is_one_cross_shaped_depthwise_kernel():
    cross = identity_up_adapter('cross')
    joint = ConvAdapter(WIDTH, 'joint', ratio=1.0).eval()
    joint.load_state_dict(
        {k: v for k, v in cross.state_dict().items() if not k.startswith(('temporal', 'spatial'))},
        strict=False,
    )
    with torch.no_grad():
        kernel = torch.zeros_like(joint.joint_conv.weight)  # (r, 1, 3, 3, 3)
        kernel[:, :, :, 1, 1] += cross.temporal_conv.weight[:, :, :, 0, 0]
        kernel[:, :, 1, :, :] += cross.spatial_conv.weight[:, :, 0]
        joint.joint_conv.weight.copy_(kernel)
        joint.joint_conv.bias.copy_(cross.temporal_conv.bias + cross.spatial_conv.bias)
    x = torch.randn(2, 6 * 25, WIDTH)
    with torch.no_grad():
        expected, _ = joint(x, 2, (5, 5))
        actual, _ = cross(x, 2, (5, 5))
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-6)
    assert best_depthwise_fit_residual(*branch_output(cross)) < 1e-5


@pytest.mark.parametrize('seed', [0, 1])
def test_decoupled_fusion_is_no_single_depthwise_kernel(seed):
    # The best (3,3,3) depthwise kernel leaves a large part of the fused output
    # unexplained, whatever its 28 values per channel.
    assert best_depthwise_fit_residual(*branch_output(identity_up_adapter('decoupled', seed))) > 0.2


def test_decoupled_branches_have_their_own_mixing_scale_and_gradients():
    model = DecoupledAdapterViT(**TINY).train()
    adapter = model.blocks[0].adapter
    assert adapter.fusion == 'decoupled'
    assert adapter.temporal_mix.weight is not adapter.spatial_mix.weight
    with torch.no_grad():  # the adapter starts as the identity: open it
        for block in model.blocks:
            block.adapter.up_proj.weight.normal_(0.0, 0.1)
    model(torch.randn(1, 3, 8, 32, 32)).square().sum().backward()
    for name in ('temporal_scale', 'spatial_scale', 'temporal_mix.weight', 'spatial_mix.weight'):
        grad = adapter.get_parameter(name).grad
        assert grad is not None and grad.abs().sum() > 0, name


def test_branch_scales_reach_the_message_hub_during_training():
    hub = MessageHub.get_instance('test_stda_fusion')
    model = DecoupledAdapterViT(**TINY).train()
    with torch.no_grad():
        model.blocks[0].adapter.temporal_scale.fill_(0.5)
        model.blocks[1].adapter.temporal_scale.fill_(1.5)
        model.blocks[1].adapter.spatial_scale.fill_(3.0)
    assert model.branch_scales() == pytest.approx(dict(temporal=1.0, spatial=2.0))
    model(torch.randn(1, 3, 4, 32, 32))
    assert hub.get_scalar('train/stda/temporal_scale').current() == pytest.approx(1.0)
    assert hub.get_scalar('train/stda/spatial_scale').current() == pytest.approx(2.0)
    assert DecoupledAdapterViT(**TINY, stda_fusion='cross').branch_scales() == {}


def test_stda_fusion_argument_is_checked_and_cross_keeps_todays_parameter_names():
    cross = DecoupledAdapterViT(**TINY, stda_fusion='cross')
    names = {n.split('.adapter.')[1] for n, _ in cross.named_parameters() if '.adapter.' in n}
    assert names == {
        'down_proj.weight',
        'down_proj.bias',
        'temporal_conv.weight',
        'temporal_conv.bias',
        'spatial_conv.weight',
        'spatial_conv.bias',
        'up_proj.weight',
        'up_proj.bias',
        'gamma',
    }
    with pytest.raises(ValueError, match="stda_fusion must be one of .* got 'sum'"):
        DecoupledAdapterViT(**TINY, stda_fusion='sum')
