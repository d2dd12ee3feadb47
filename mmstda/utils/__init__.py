from .checkpoint import UnsafeCheckpointError, load_checkpoint_file
from .class_balance import (
    class_balanced_weights,
    class_rarity,
    default_beta,
    effective_numbers,
)

__all__ = [
    'UnsafeCheckpointError',
    'class_balanced_weights',
    'class_rarity',
    'default_beta',
    'effective_numbers',
    'load_checkpoint_file',
]
