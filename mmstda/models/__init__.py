from . import backbones, detectors, heads, losses, necks, pretrainers  # noqa: F401
