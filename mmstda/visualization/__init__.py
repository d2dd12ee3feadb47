from .timeline import draw_timeline

__all__ = ['draw_timeline']
