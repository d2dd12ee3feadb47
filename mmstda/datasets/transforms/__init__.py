from .asba import ASBATransform, asba_intensity  # noqa: F401
from .formatting import PackMGInputs  # noqa: F401
from .in_memory_clip import InMemoryVideoClip  # noqa: F401
from .video_cache import CachedDecordInit  # noqa: F401
from .windows import SampleMGWindow, TemporalSpeedJitter, window_segments  # noqa: F401
