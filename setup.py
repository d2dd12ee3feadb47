import os.path as osp
import shutil

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = osp.dirname(osp.abspath(__file__))
# `mim train mmstda CONFIG` / `mim test mmstda ...` run the package's own
# `.mim/tools/{train,test}.py` and find configs in `.mim/configs`, the layout every
# OpenMMLab package ships; the wheel gets copies of tools/ and configs/ there, and
# of checkpoints/ (the small pretrained trunk the demo config loads). The tools' own
# packages (tools/_helpers, tools/analysis/ablation) travel inside tools/: they are
# imported from the tools' folders, not installed as packages.
MIM_FOLDERS = ('tools', 'configs', 'checkpoints')


def read_requirements(name: str) -> list[str]:
    """Requirement lines of ``requirements/<name>``, without comments or ``-r``."""
    with open(osp.join(HERE, 'requirements', name)) as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line and not line.startswith('-')]


def read_version() -> str:
    namespace: dict = {}
    with open(osp.join(HERE, 'mmstda', 'version.py')) as f:
        exec(f.read(), namespace)
    return namespace['__version__']


class BuildPyWithMim(build_py):
    """``build_py`` that also copies tools/ and configs/ into ``mmstda/.mim/``.

    Editable installs are skipped: they run from the source tree, which has no
    ``.mim`` folder; the README points them to ``mim train mmaction``.
    """

    def run(self) -> None:
        super().run()
        if getattr(self, 'editable_mode', False):
            return
        for folder in MIM_FOLDERS:
            target = osp.join(self.build_lib, 'mmstda', '.mim', folder)
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(
                osp.join(HERE, folder),
                target,
                ignore=shutil.ignore_patterns('__pycache__', '*.pyc'),
            )


setup(
    name='mmstda',
    version=read_version(),
    description='Online micro-gesture recognition with Spatial-Temporal Decoupled '
    'Adapters, as an MMAction2 plugin',
    long_description=open(osp.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.10',
    packages=find_packages(exclude=('configs', 'tools', 'tools.*', 'tests', 'tests.*')),
    # mmcv is not listed: pip would build full mmcv from source. Install
    # mmcv-lite (CPU) or mmcv (GPU) as the README says.
    install_requires=read_requirements('runtime.txt'),
    extras_require=dict(
        tests=read_requirements('tests.txt'),
        optional=read_requirements('optional.txt'),
        mim=read_requirements('mminstall.txt'),
    ),
    cmdclass=dict(build_py=BuildPyWithMim),
)
