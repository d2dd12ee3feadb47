from .temporal_align_neck import TemporalAlignNeck

__all__ = ['TemporalAlignNeck']
