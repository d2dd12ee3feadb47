"""SMGDataset over synthetic SMG-like data that is generated on first use."""

import os
import os.path as osp
import shutil

from mmaction.registry import DATASETS
from mmengine.dist import barrier, get_rank
from mmengine.logging import print_log

from .smg import SMGDataset
from .synthetic_smg import SyntheticSMGConfig, generate_synthetic_smg

SPLIT_FILE = 'synthetic_smg.json'


def ensure_synthetic_smg(data_root: str, generator: dict | None = None) -> str:
    """Generate the synthetic dataset into ``data_root`` unless it is already there.

    The data set is complete once ``synthetic_smg.json`` exists: it is written into a
    temporary folder that is renamed into place, so an interrupted run never leaves
    a half-written data set behind. In a distributed run rank 0 generates while the
    other ranks wait.

    Args:
        data_root (str): Dataset folder.
        generator (dict, optional): :class:`SyntheticSMGConfig` fields plus
            ``workers`` (rendering processes). Defaults to None (the defaults).

    Returns:
        str: ``data_root``.
    """
    if not osp.isfile(osp.join(data_root, SPLIT_FILE)):
        if get_rank() == 0:
            if osp.exists(data_root) and os.listdir(data_root):
                raise FileExistsError(
                    f'{data_root} exists but holds no {SPLIT_FILE}: it is not a complete '
                    'synthetic SMG data set. Remove it or point data_root elsewhere.'
                )
            options = dict(generator or {})
            workers = int(options.pop('workers', 2))
            partial = data_root.rstrip('/') + '.partial'
            shutil.rmtree(partial, ignore_errors=True)
            print_log(f'Generating synthetic SMG-like data into {data_root} ...', 'current')
            generate_synthetic_smg(
                partial, SyntheticSMGConfig(**options), workers=workers, progress=True
            )
            if osp.isdir(data_root):
                os.rmdir(data_root)
            os.replace(partial, data_root)
        barrier()
    return data_root


@DATASETS.register_module()
class SyntheticSMGDataset(SMGDataset):
    """:class:`SMGDataset` on synthetic data, generated on first use.

    Reads exactly what ``tools/data/make_synthetic_smg.py`` writes (the SMG
    start-kit layout plus ``synthetic_smg.json`` with the splits). When
    ``data_root`` does not hold a complete data set yet, it is generated there
    first with ``generator`` settings, so the demo needs no manual step.

    Args:
        generator (dict, optional): :class:`SyntheticSMGConfig` fields (e.g.
            ``num_videos``, ``minutes``, ``frame_size``, ``seed``) and ``workers``.
            Defaults to None (the generator's defaults: 12 one-minute 64 px videos).
        **kwargs: :class:`SMGDataset` arguments; ``split_file`` defaults to
            ``'synthetic_smg.json'``.
    """

    def __init__(self, generator: dict | None = None, **kwargs) -> None:
        self.generator = generator
        kwargs.setdefault('split_file', SPLIT_FILE)
        super().__init__(**kwargs)

    def full_init(self) -> None:
        if not self._fully_initialized:
            ensure_synthetic_smg(self.data_root, self.generator)
        super().full_init()
