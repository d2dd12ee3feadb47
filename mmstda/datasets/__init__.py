from . import transforms  # noqa: F401
from .smg import SMGDataset, SMGDataWarning  # noqa: F401
from .smg_meta import SMG_CLASSES  # noqa: F401
from .synthetic_smg_dataset import SyntheticSMGDataset  # noqa: F401
