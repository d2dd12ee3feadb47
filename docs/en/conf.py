# Sphinx configuration for the mmstda documentation (layout of mmaction2's docs/en).
#
# Build (warnings are errors):
#   pip install -r requirements/docs.txt
#   sphinx-build -W --keep-going -b html docs/en docs/en/_build/html
#
# Nothing is mocked: the API pages import mmstda (and so torch, mmengine and
# mmaction2) exactly as a user does.
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.abspath(os.path.join(HERE, '..', '..')))  # the repository root
sys.path.insert(0, os.path.join(HERE, '_ext'))

import mmstda  # noqa: E402

# -- Project information -----------------------------------------------------

project = 'mmstda'
copyright = 'mmstda contributors'
author = 'mmstda contributors'
version = mmstda.__version__
release = mmstda.__version__

# -- General configuration ---------------------------------------------------

extensions = [
    'sphinx.ext.autodoc',
    'sphinx.ext.napoleon',
    'sphinx.ext.viewcode',
    'myst_parser',
    'mmstda_registry',  # docs/en/_ext: one API entry per registered component
]

source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}
root_doc = 'index'
exclude_patterns = ['_build', '_ext', 'Thumbs.db', '.DS_Store']
language = 'en'

# MyST: anchors for headings down to level 3, as mmaction2's docs use them.
myst_enable_extensions = ['colon_fence']
myst_heading_anchors = 3

# autodoc / napoleon: the code uses Google-style docstrings.
autodoc_member_order = 'bysource'
autodoc_typehints = 'description'
autoclass_content = 'both'
napoleon_google_docstring = True
napoleon_numpy_docstring = False

# -- Options for HTML output -------------------------------------------------

html_theme = 'furo'
html_title = f'mmstda {release}'
