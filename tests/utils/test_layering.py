"""``mmstda/utils`` is the bottom layer: no import runs from it back up the package.

None of its modules imports ``mmstda.models`` or a private (``_``-prefixed) name of
``mmstda.evaluation``. What only the tools use lives beside them
(``tools/_helpers``, ``tools/analysis/ablation``), where such imports are fine.
"""

import ast
import glob
import os.path as osp

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
UTILS = osp.join(REPO_ROOT, 'mmstda', 'utils')


def _absolute(module: str | None, level: int, package: str) -> str:
    """The module ``from <level dots><module> import ...`` names, inside ``package``."""
    if level == 0:
        return module or ''
    parts = package.split('.')
    return '.'.join(parts[: len(parts) - level + 1] + ([module] if module else []))


def _under(name: str, top: str) -> bool:
    return name == top or name.startswith(f'{top}.')


def _imported_names(tree: ast.AST, package: str):
    """``(line, dotted name)`` of everything a module imports, in functions too."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node.module, node.level, package)
            for alias in node.names:
                yield node.lineno, module if alias.name == '*' else f'{module}.{alias.name}'
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, 'attr', getattr(node.func, 'id', None))
            in ('import_module', '__import__')
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def upward_imports(source: str, package: str, where: str) -> list[str]:
    """One line per import in ``source`` of ``mmstda.models`` or of a private name of
    ``mmstda.evaluation`` (a dotted part after ``mmstda.evaluation`` starting with ``_``).

    Args:
        source (str): A module's code.
        package (str): The package the module is in (resolves relative imports).
        where (str): The module's path, for the messages.
    """
    found = []
    for line, name in _imported_names(ast.parse(source), package):
        if _under(name, 'mmstda.models'):
            found.append(f'{where}:{line}: imports {name} (a layer above mmstda.utils)')
        elif _under(name, 'mmstda.evaluation') and any(
            part.startswith('_') for part in name.split('.')[2:]
        ):
            found.append(f'{where}:{line}: imports {name} (private to mmstda.evaluation)')
    return found


def test_checker_finds_every_form_of_upward_import():
    source = (
        'from mmstda.evaluation.functional.segment_f1 import _counts_to_scores\n'
        'from mmstda.evaluation import segment_f1\n'
        'from mmstda.utils.errors import UserInputError\n'
        'from .errors import UserInputError\n'
        'import mmstda.models.heads\n'
        'from ..models import backbones\n'
        'from mmstda import models\n'
        'from mmstda.evaluation._private import scores\n'
        'def stock_vit(cfg):\n'
        '    from mmstda.models.backbones.decoupled_adapter_vit import ARCH_SETTINGS\n'
        "    return importlib.import_module('mmstda.models.necks')\n"
    )
    found = upward_imports(source, 'mmstda.utils', 'x.py')
    assert [line.split(': imports ')[0] for line in found] == [
        'x.py:1',
        'x.py:5',
        'x.py:6',
        'x.py:7',
        'x.py:8',
        'x.py:10',
        'x.py:11',
    ]
    assert 'mmstda.evaluation.functional.segment_f1._counts_to_scores' in found[0]
    assert 'imports mmstda.models.backbones (a layer above' in found[2]


def test_utils_imports_neither_models_nor_private_evaluation_names():
    paths = sorted(glob.glob(osp.join(UTILS, '**', '*.py'), recursive=True))
    assert osp.join(UTILS, 'checkpoint.py') in paths
    found = []
    for path in paths:
        relative = osp.relpath(path, REPO_ROOT)
        package = osp.dirname(relative).replace(osp.sep, '.')
        with open(path, encoding='utf-8') as f:
            found += upward_imports(f.read(), package, relative)
    assert not found, (
        'mmstda/utils is imported by the whole library and must not import back up it; '
        'code only the tools use belongs beside them (tools/_helpers, '
        'tools/analysis/ablation):\n' + '\n'.join(found)
    )
