from .online_mg_detector import OnlineMGDetector

__all__ = ['OnlineMGDetector']
