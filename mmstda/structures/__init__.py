from .segment_ops import batched_nms_1d, nms_1d, segment_iou

__all__ = ['batched_nms_1d', 'nms_1d', 'segment_iou']
