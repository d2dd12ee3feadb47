from .live_overlay import draw_live_overlay, label_colour
from .timeline import draw_timeline

__all__ = ['draw_live_overlay', 'draw_timeline', 'label_colour']
