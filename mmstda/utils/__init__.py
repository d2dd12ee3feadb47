from .checkpoint import (
    CheckpointError,
    UnsafeCheckpointError,
    load_checkpoint_file,
    load_model_weights,
)
from .class_balance import (
    class_balanced_weights,
    class_rarity,
    default_beta,
    effective_numbers,
)
from .errors import UserInputError
from .operating_point import read_operating_point

__all__ = [
    'CheckpointError',
    'UnsafeCheckpointError',
    'UserInputError',
    'class_balanced_weights',
    'class_rarity',
    'default_beta',
    'effective_numbers',
    'load_checkpoint_file',
    'load_model_weights',
    'read_operating_point',
]
