from .focal_loss import SigmoidFocalLoss
from .segment_iou_loss import SegmentIoULoss, segment_iou_loss

__all__ = ['SegmentIoULoss', 'SigmoidFocalLoss', 'segment_iou_loss']
