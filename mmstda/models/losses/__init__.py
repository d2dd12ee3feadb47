from .focal_loss import SigmoidFocalLoss

__all__ = ['SigmoidFocalLoss']
