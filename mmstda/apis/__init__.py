from .frame_reader import FrameChunk, FrameReader
from .frame_sources import (
    DEFAULT_FPS,
    FrameSource,
    check_source_options,
    open_frame_source,
    source_kind,
)
from .multi_stream_recognizer import MultiStreamRecognizer, init_multi_stream_recognizer
from .online_recognizer import OnlineRecognizer, init_online_recognizer

__all__ = [
    'DEFAULT_FPS',
    'FrameChunk',
    'FrameReader',
    'FrameSource',
    'MultiStreamRecognizer',
    'OnlineRecognizer',
    'check_source_options',
    'init_multi_stream_recognizer',
    'init_online_recognizer',
    'open_frame_source',
    'source_kind',
]
