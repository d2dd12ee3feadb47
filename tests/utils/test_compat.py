import os.path as osp
import subprocess
import sys

COMPAT = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'mmstda', 'utils', 'compat.py'
)


def _fake_mmaction(root, with_drn: bool) -> None:
    """An ``mmaction`` package laid out like the 1.2.0 wheel (optionally without drn)."""
    localizers = root / 'mmaction' / 'models' / 'localizers'
    localizers.mkdir(parents=True)
    (root / 'mmaction' / '__init__.py').write_text('')
    (root / 'mmaction' / 'models' / '__init__.py').write_text('from .localizers import *\n')
    (localizers / '__init__.py').write_text('from .drn.drn import DRN\nBMN = "bmn"\n')
    if with_drn:
        (localizers / 'drn').mkdir()
        (localizers / 'drn' / '__init__.py').write_text('')
        (localizers / 'drn' / 'drn.py').write_text('DRN = "real drn"\n')


def _import_models_after_compat(root) -> subprocess.CompletedProcess:
    code = (
        'import importlib.util, sys\n'
        f'spec = importlib.util.spec_from_file_location("compat", {COMPAT!r})\n'
        'spec.loader.exec_module(importlib.util.module_from_spec(spec))\n'
        'import mmaction.models.localizers as loc\n'
        'print(loc.BMN, loc.DRN if isinstance(loc.DRN, str) else "placeholder")\n'
    )
    return subprocess.run(
        [sys.executable, '-c', code],
        env={'PYTHONPATH': str(root)},
        capture_output=True,
        text=True,
    )


def test_missing_drn_of_mmaction_1_2_0_wheel_is_patched(tmp_path):
    _fake_mmaction(tmp_path, with_drn=False)
    result = _import_models_after_compat(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ['bmn', 'placeholder']


def test_present_drn_is_left_alone(tmp_path):
    _fake_mmaction(tmp_path, with_drn=True)
    result = _import_models_after_compat(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ['bmn', 'real', 'drn']
