from . import backbones, detectors, heads, losses, necks  # noqa: F401
