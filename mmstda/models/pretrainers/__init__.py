from .videomae_pretrainer import VideoMAEPretrainer

__all__ = ['VideoMAEPretrainer']
