"""What the library itself uses: checkpoint loading, class-balance maths, the operating point,
user-input errors and the mmaction2 compatibility patches.

Nothing here imports ``mmstda.models`` or a private name of ``mmstda.evaluation``
(``tests/utils/test_layering.py``). What only the tools use lives beside them:
``tools/_helpers`` (start-up, console, run summary) and ``tools/analysis/ablation``.
"""

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
