from . import metrics  # noqa: F401
from .functional import segment_f1

__all__ = ['segment_f1']
