"""Narrow work-arounds for known packaging bugs in the OpenMMLab stack.

Each one is applied only when the bug is actually present.
"""

import importlib.util
import os.path as osp
import sys
import types
import warnings

# mmcv-lite has no compiled ops by design; mmcv warns about the missing deformable
# attention op on every import although mmstda never uses it.
warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention``')


def _patch_mmaction_drn() -> None:
    # mmaction2 1.2.0's PyPI wheel lacks ``mmaction/models/localizers/drn``
    # (upstream issue #2714), so ``import mmaction.models`` fails. Provide an
    # empty placeholder only when mmaction2 is installed and that folder is missing.
    spec = importlib.util.find_spec('mmaction')
    if spec is None or 'mmaction.models.localizers.drn' in sys.modules:
        return
    # Look on disk: importing mmaction.models here would trigger the bug.
    for location in spec.submodule_search_locations or []:
        localizers = osp.join(location, 'models', 'localizers')
        if not osp.isdir(localizers) or osp.isdir(osp.join(localizers, 'drn')):
            return
    drn_pkg = types.ModuleType('mmaction.models.localizers.drn')
    drn_pkg.__path__ = []
    drn_mod = types.ModuleType('mmaction.models.localizers.drn.drn')

    class DRN:  # noqa: D401 - placeholder, never registered
        """Placeholder for the DRN localizer missing from mmaction2 1.2.0."""

        def __init__(self, *args, **kwargs):
            raise ImportError('DRN is missing from this mmaction2 wheel (upstream issue #2714).')

    drn_mod.DRN = DRN
    drn_pkg.drn = drn_mod
    sys.modules['mmaction.models.localizers.drn'] = drn_pkg
    sys.modules['mmaction.models.localizers.drn.drn'] = drn_mod


_patch_mmaction_drn()


def _patch_external_config_lookup() -> None:
    # mmengine (0.8.0 to 0.10.7 alike) resolves ``_base_ = 'pkg::x/y.py'`` through
    # the package's metafiles first and calls ``.partition('/')`` on every
    # ``Config:`` entry. mmaction2 1.1.0's ``localization/bsn/metafile.yml`` lists
    # three configs in one entry (a list; fixed upstream in 1.2.0), so the lookup
    # raises AttributeError, which mmengine's ``Config._get_cfg_path`` does not
    # catch, and every ``mmaction::`` inheritance fails. Turn exactly that error
    # into the ValueError on which mmengine falls back to ``.mim/configs/y.py``.
    from mmengine.config import config as mmengine_config

    original = mmengine_config._get_external_cfg_path
    if getattr(original, '_mmstda_patched', False):
        return

    def get_external_cfg_path(package_path: str, cfg_file: str) -> str:
        try:
            return original(package_path, cfg_file)
        except AttributeError as err:
            raise ValueError(
                f'a metafile of {package_path} has a malformed Config entry ({err})'
            ) from err

    get_external_cfg_path._mmstda_patched = True
    mmengine_config._get_external_cfg_path = get_external_cfg_path


_patch_external_config_lookup()
