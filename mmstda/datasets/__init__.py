from . import transforms  # noqa: F401
from .smg import SMGDataset, SMGDataWarning  # noqa: F401
from .smg_meta import SMG_CLASSES  # noqa: F401
from .synthetic_smg_dataset import SyntheticSMGDataset  # noqa: F401
from .unlabeled_video import UnlabeledVideoDataset  # noqa: F401
