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


def _fake_package_with_bad_metafile(root) -> str:
    """A package whose metafile lists two configs in one entry, as mmaction2 1.1.0's BSN does.

    Returns the path of a user config inheriting ``fakemm::_base_/runtime.py``.
    """
    mim = root / 'fakemm' / '.mim'
    (mim / 'configs' / '_base_').mkdir(parents=True)
    (root / 'fakemm' / '__init__.py').write_text('')
    (mim / 'model-index.yml').write_text('Import:\n- configs/bsn/metafile.yml\n')
    (mim / 'configs' / 'bsn').mkdir()
    (mim / 'configs' / 'bsn' / 'metafile.yml').write_text(
        'Models:\n- Name: bsn\n  Config:\n  - configs/bsn/tem.py\n  - configs/bsn/pem.py\n'
    )
    (mim / 'configs' / '_base_' / 'runtime.py').write_text('log_level = "from fakemm"\n')
    user_cfg = root / 'user_cfg.py'
    user_cfg.write_text("_base_ = 'fakemm::_base_/runtime.py'\n")
    return str(user_cfg)


def _load_config(root, user_cfg: str, with_compat: bool) -> subprocess.CompletedProcess:
    load_compat = (
        'import importlib.util\n'
        f'spec = importlib.util.spec_from_file_location("compat", {COMPAT!r})\n'
        'spec.loader.exec_module(importlib.util.module_from_spec(spec))\n'
    )
    code = (load_compat if with_compat else '') + (
        # mmengine resolves only the OpenMMLab packages it lists; list the fake one.
        'from mmengine.config import Config, utils\n'
        'utils.MODULE2PACKAGE["fakemm"] = "fakemm"\n'
        f'print(Config.fromfile({user_cfg!r}).log_level)\n'
    )
    return subprocess.run(
        [sys.executable, '-c', code], env={'PYTHONPATH': str(root)}, capture_output=True, text=True
    )


def test_malformed_metafile_entry_falls_back_to_shipped_base_config(tmp_path):
    user_cfg = _fake_package_with_bad_metafile(tmp_path)
    # The bug this guards against: mmengine alone stops at the list entry.
    plain = _load_config(tmp_path, user_cfg, with_compat=False)
    assert plain.returncode != 0 and 'AttributeError' in plain.stderr, plain.stderr[-2000:]
    patched = _load_config(tmp_path, user_cfg, with_compat=True)
    assert patched.returncode == 0, patched.stderr[-2000:]
    assert patched.stdout.strip() == 'from fakemm'
