"""SMGDataset over synthetic SMG-like data that is generated on first use."""

import json
import logging
import os
import os.path as osp
import shutil
from dataclasses import asdict

from filelock import FileLock
from mmaction.registry import DATASETS
from mmengine.dist import barrier, get_rank
from mmengine.logging import print_log
from mmengine.utils import mkdir_or_exist

from mmstda.utils.errors import UserInputError

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

    Raises:
        UserInputError: ``data_root`` already holds a data set generated with other
            settings than an explicit ``generator`` asks for. With ``generator``
            None, a difference from the generator's defaults is only logged: the
            folder may be one a user made on purpose with other settings.
    """
    if osp.isfile(osp.join(data_root, SPLIT_FILE)):
        check_generator_settings(data_root, generator)
    else:
        if get_rank() == 0:
            # Several processes on one machine may want the same data set at once
            # (e.g. run_ablation.py --jobs 2): one generates, the others wait.
            # filelock comes with torch.
            mkdir_or_exist(osp.dirname(osp.abspath(data_root)))
            with FileLock(osp.abspath(data_root).rstrip('/') + '.lock'):
                if osp.isfile(osp.join(data_root, SPLIT_FILE)):
                    check_generator_settings(data_root, generator)
                else:
                    _generate(data_root, generator)
        barrier()
    return data_root


def _generate(data_root: str, generator: dict | None) -> None:
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
    generate_synthetic_smg(partial, SyntheticSMGConfig(**options), workers=workers, progress=True)
    if osp.isdir(data_root):
        os.rmdir(data_root)
    os.replace(partial, data_root)


def check_generator_settings(data_root: str, generator: dict | None) -> None:
    """Compare the settings ``data_root`` was generated with to ``generator``.

    Reusing a data set made with other settings would silently train or score on
    other data than the config describes, e.g. after the generator's defaults
    change, so an explicit ``generator`` that differs is an error.
    """
    split_file = osp.join(data_root, SPLIT_FILE)
    with open(split_file) as f:
        stored = json.load(f).get('config')
    if not isinstance(stored, dict):
        return  # written by hand or by an old generator: nothing to compare
    options = {k: v for k, v in (generator or {}).items() if k != 'workers'}
    wanted = asdict(SyntheticSMGConfig(**options))
    differ = [
        f'{name}: {stored.get(name)!r} on disk, {value!r} wanted'
        for name, value in wanted.items()
        if name in stored and stored[name] != value
    ]
    if not differ:
        return
    what = "the config's generator settings" if generator else "the generator's defaults"
    message = (
        f'{split_file}: this data set was generated with other settings than '
        f'{what} ({"; ".join(differ)}).'
    )
    if generator:
        raise UserInputError(
            f'{message} Remove {data_root} to regenerate it, or point data_root at another folder.'
        )
    print_log(
        f'{message} Using it as it is; remove {data_root} to regenerate it with the defaults.',
        'current',
        level=logging.WARNING,
    )


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
