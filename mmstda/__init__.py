"""mmstda: online micro-gesture recognition as an MMAction2 plugin.

Importing this package registers every component into mmaction2's own
registries (``mmaction.registry``), so a config only needs
``custom_imports = dict(imports=['mmstda'], allow_failed_imports=False)``.
"""

# isort: off
from .utils import compat  # noqa: F401  (patches the stack before mmaction loads)
from . import apis, datasets, engine, evaluation, models, structures, visualization  # noqa: F401

# isort: on
from .version import __version__

__all__ = ['__version__']
