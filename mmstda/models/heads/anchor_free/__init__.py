"""Building blocks of :class:`AnchorFreeTADHead`: pyramid, target assignment, decoding."""

from .decoding import suppress, top_candidates
from .pyramid import TemporalPyramid, level_lengths, level_positions
from .targets import assign_targets, default_regress_ranges, level_max_reach

__all__ = [
    'TemporalPyramid',
    'assign_targets',
    'default_regress_ranges',
    'level_lengths',
    'level_max_reach',
    'level_positions',
    'suppress',
    'top_candidates',
]
