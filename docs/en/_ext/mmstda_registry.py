"""Sphinx extension: API entries for every component mmstda registers.

``import mmstda`` registers its classes into mmaction2's registries
(``mmaction.registry.MODELS``, ``DATASETS``, ``TRANSFORMS``, ``METRICS``,
``HOOKS``). The ``mmstda-registered`` directive reads those registries at build
time and writes one ``autoclass`` per registered mmstda class, so the API
reference cannot fall behind the code::

    .. mmstda-registered:: MODELS
       :package: mmstda.models.heads

documents every class in ``MODELS`` whose ``__module__`` lies under
``mmstda.models.heads``, under the shortest import path that exposes it
(``mmstda.models.heads.OnlineTADHead``, not ``...online_tad_head.OnlineTADHead``).

When the build finishes, every mmstda entry in any registry of the tree
(mmengine's root registries and all their children, mmaction2's included) must
have been documented by one of these directives; one that was not is a warning,
which ``sphinx-build -W`` turns into a failed build. A new component in a
section that exists appears by itself; one in a new registry or package fails
the build until ``api.md`` gets a section for it.
"""

from __future__ import annotations

import importlib

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

PACKAGE = 'mmstda'


def _registry_tree():
    """Yield every registry reachable from mmengine's roots (mmaction2's are children)."""
    import mmaction.registry  # noqa: F401  (creates mmaction2's child registries)
    import mmengine.registry as root
    from mmengine.registry import Registry

    import mmstda  # noqa: F401  (registers mmstda's components)

    stack = [r for r in vars(root).values() if isinstance(r, Registry)]
    seen = set()
    while stack:
        reg = stack.pop()
        if id(reg) in seen:
            continue
        seen.add(id(reg))
        yield reg
        stack.extend(reg.children.values())


def _registry_label(reg) -> str:
    return f'{reg.scope}.{reg.name}'


def registered_components():
    """``{(registry label, registered name): class}`` for every mmstda entry."""
    found = {}
    for reg in _registry_tree():
        for name, obj in reg._module_dict.items():
            if getattr(obj, '__module__', '').split('.')[0] == PACKAGE:
                found[(_registry_label(reg), name)] = obj
    return found


def public_path(obj) -> str:
    """Shortest ``package.Name`` under which ``obj`` can be imported."""
    parts = obj.__module__.split('.')
    for i in range(1, len(parts) + 1):
        modname = '.'.join(parts[:i])
        module = importlib.import_module(modname)
        if getattr(module, obj.__name__, None) is obj:
            return f'{modname}.{obj.__qualname__}'
    return f'{obj.__module__}.{obj.__qualname__}'


def _registry_by_attr(attr: str):
    """mmaction2's registry named ``attr`` in ``mmaction.registry`` (e.g. ``MODELS``)."""
    import mmaction.registry as mmaction_registry
    from mmengine.registry import Registry

    reg = getattr(mmaction_registry, attr, None)
    if not isinstance(reg, Registry):
        raise ValueError(f'mmaction.registry has no registry {attr!r}')
    return reg


class RegisteredDirective(SphinxDirective):
    """``.. mmstda-registered:: REGISTRY`` with optional ``:package:``."""

    required_arguments = 1
    option_spec = {'package': directives.unchanged_required}

    def run(self):
        try:
            reg = _registry_by_attr(self.arguments[0])
        except ValueError as exc:
            logger.warning(str(exc), location=self.get_location())
            return []
        package = self.options.get('package', PACKAGE)
        label = _registry_label(reg)
        shown = f'mmaction.registry.{self.arguments[0]}'
        entries = []
        for name, obj in reg._module_dict.items():
            module = getattr(obj, '__module__', '')
            if module == package or module.startswith(package + '.'):
                entries.append((public_path(obj), name, obj))
        if not entries:
            logger.warning(
                f'no mmstda component registered in {shown} under {package}',
                location=self.get_location(),
            )
            return []

        documented = self.env.domaindata.setdefault('mmstda_registry', {})
        lines = []
        for path, name, _obj in sorted(entries):
            documented[(label, name)] = self.env.docname
            lines += [
                f'.. autoclass:: {path}',
                '   :members:',
                '   :show-inheritance:',
                '',
                f'   Registered in ``{shown}`` as ``type={name!r}``.',
                '',
            ]
        node = nodes.container()
        self.state.nested_parse(
            StringList(lines, source=self.get_location()), self.content_offset, node
        )
        return node.children


def _purge(app, env, docname):
    documented = env.domaindata.get('mmstda_registry', {})
    for key in [k for k, v in documented.items() if v == docname]:
        del documented[key]


def _merge(app, env, docnames, other):
    env.domaindata.setdefault('mmstda_registry', {}).update(
        other.domaindata.get('mmstda_registry', {})
    )


def _check_complete(app, env):
    documented = env.domaindata.get('mmstda_registry', {})
    registered = registered_components()
    for label, name in sorted(set(registered) - set(documented)):
        logger.warning(
            f'{registered[label, name].__module__}.{name} is registered in registry '
            f'{label!r} but not in the API reference: add a `mmstda-registered` '
            'section for it to docs/en/api.md'
        )


def setup(app):
    app.setup_extension('sphinx.ext.autodoc')
    app.add_directive('mmstda-registered', RegisteredDirective)
    app.connect('env-purge-doc', _purge)
    app.connect('env-merge-info', _merge)
    app.connect('env-check-consistency', _check_complete)
    return {'version': '1.0', 'parallel_read_safe': True, 'parallel_write_safe': True}
