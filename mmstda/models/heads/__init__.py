from .anchor_free_tad_head import AnchorFreeTADHead
from .online_tad_head import OnlineTADHead, segments_to_instances
from .segment_decoder import Segment, SegmentDecoder, decode_segments

__all__ = [
    'AnchorFreeTADHead',
    'OnlineTADHead',
    'Segment',
    'SegmentDecoder',
    'decode_segments',
    'segments_to_instances',
]
