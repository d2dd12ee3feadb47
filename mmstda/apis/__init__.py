from .online_recognizer import OnlineRecognizer, init_online_recognizer

__all__ = ['OnlineRecognizer', 'init_online_recognizer']
