from .micro_gesture_f1_metric import MicroGestureF1Metric

__all__ = ['MicroGestureF1Metric']
