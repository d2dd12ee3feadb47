from .segment_f1 import segment_f1

__all__ = ['segment_f1']
