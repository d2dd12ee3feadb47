from .checkpoint import UnsafeCheckpointError, load_checkpoint_file
from .class_balance import (
    class_balanced_weights,
    class_rarity,
    default_beta,
    effective_numbers,
)
from .operating_point import read_operating_point

__all__ = [
    'UnsafeCheckpointError',
    'class_balanced_weights',
    'class_rarity',
    'default_beta',
    'effective_numbers',
    'load_checkpoint_file',
    'read_operating_point',
]
