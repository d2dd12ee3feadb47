"""Narrow work-arounds for known packaging bugs in the OpenMMLab stack.

Each one is applied only when the bug is actually present.
"""

import importlib.util
import os.path as osp
import sys
import types


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
