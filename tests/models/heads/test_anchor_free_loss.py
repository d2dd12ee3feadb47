"""IoU-family regression loss of AnchorFreeTADHead at hand-computed IoUs."""

import pytest
import torch
from mmaction.registry import MODELS

import mmstda  # noqa: F401  (registers the components)
from mmstda.models.losses import segment_iou_loss

# (pred, target, IoU loss, GIoU loss, DIoU loss), worked out by hand:
#   I = overlap, U = sum of lengths - I, C = hull length, d = centre distance.
CASES = [
    # identical: I 4, U 4
    ([8.0, 12.0], [8.0, 12.0], 0.0, 0.0, 0.0),
    # nested, same centre: I 2, U 4, C 4, d 0
    ([9.0, 11.0], [8.0, 12.0], 0.5, 0.5, 0.5),
    # shifted by 1: I 3, U 5, C 5, d 1 -> DIoU 0.4 + 1/25
    ([9.0, 13.0], [8.0, 12.0], 0.4, 0.4, 0.44),
    # touching at 10: I 0, U 4, C 4, d 2 -> DIoU 1 + 4/16
    ([10.0, 12.0], [8.0, 10.0], 1.0, 1.0, 1.25),
    # disjoint with a gap of 2: I 0, U 4, C 6, d 4 -> GIoU 1 + 2/6, DIoU 1 + 16/36
    ([0.0, 2.0], [4.0, 6.0], 1.0, 1.0 + 1.0 / 3.0, 1.0 + 16.0 / 36.0),
]


@pytest.mark.parametrize('mode, column', [('iou', 2), ('giou', 3), ('diou', 4)])
def test_segment_iou_loss_matches_hand_computed_values(mode, column):
    pred = torch.tensor([case[0] for case in CASES])
    target = torch.tensor([case[1] for case in CASES])
    expected = torch.tensor([case[column] for case in CASES])
    assert torch.allclose(segment_iou_loss(pred, target, mode), expected, atol=1e-5)


def test_diou_still_pulls_disjoint_segments_together():
    pred = torch.tensor([[0.0, 2.0]], requires_grad=True)
    target = torch.tensor([[4.0, 6.0]])
    segment_iou_loss(pred, target, 'iou').sum().backward()
    assert not pred.grad.any()  # plain IoU: no signal without overlap
    pred.grad = None
    segment_iou_loss(pred, target, 'diou').sum().backward()
    # d**2 / C**2 with d = (s + e - 10) / 2 = -4 and C = 6 - s = 6:
    # d/de = d / C**2 = -1/9; d/ds = d / C**2 + 2 d**2 / C**3 = -1/9 + 4/27 = 1/27.
    assert pred.grad.tolist() == [pytest.approx([1 / 27, -1 / 9], abs=1e-6)]
    # Moving the whole prediction towards the target lowers the loss.
    assert pred.grad.sum() < 0


def test_registered_loss_reduces_with_weights_and_avg_factor():
    loss = MODELS.build(dict(type='SegmentIoULoss', mode='diou', loss_weight=2.0))
    pred = torch.tensor([[9.0, 13.0], [10.0, 12.0]])
    target = torch.tensor([[8.0, 12.0], [8.0, 10.0]])
    # 2 * (0.44 * 1 + 1.25 * 0.5) / 4
    value = loss(pred, target, weight=torch.tensor([1.0, 0.5]), avg_factor=4)
    assert value.item() == pytest.approx(2 * (0.44 + 0.625) / 4, abs=1e-5)
    assert loss(pred, target, reduction_override='sum').item() == pytest.approx(
        2 * (0.44 + 1.25), abs=1e-5
    )


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match='mode must be one of'):
        MODELS.build(dict(type='SegmentIoULoss', mode='ciou'))
    with pytest.raises(ValueError, match=r'\(N, 2\) segments'):
        segment_iou_loss(torch.zeros(3, 2), torch.zeros(2, 2))
