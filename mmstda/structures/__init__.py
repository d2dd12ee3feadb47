from .segment_ops import batched_nms_1d, nms_1d, segment_iou
from .soft_nms import segment_voting, soft_nms_1d

__all__ = ['batched_nms_1d', 'nms_1d', 'segment_iou', 'segment_voting', 'soft_nms_1d']
