"""Sphinx configuration of the bayescity documentation (Sphinx + MyST-NB + PyData theme).

Build it strictly (every warning an error; notebooks executed, a failing cell fails the build):

    python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import bayescity  # noqa: E402

project = "bayescity"
author = "bayescity developers"
copyright = "bayescity developers"  # noqa: A001
release = version = bayescity.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx_design",
    "bcdocs",
]

exclude_patterns = ["_build", "_generated", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"

# MyST: headings get anchors up to level 3, so pages can link to `page.md#section`.
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3

# Notebooks: executed on every build; a cell that raises fails the build (cells that show an
# error on purpose are tagged `raises-exception`).
nb_execution_mode = "force"
nb_execution_timeout = 900
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
# An error shown on purpose is printed without its traceback (%xmode Minimal); Pygments' IPython
# traceback lexer stumbles on a backtick in some messages, which is not an error of the page.
suppress_warnings = ["misc.highlighting_failure"]

# API reference from docstrings (reST); signatures keep their annotations.
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autodoc_default_options = {"exclude-members": "__init__, __new__"}

html_theme = "pydata_sphinx_theme"
html_title = f"bayescity {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_static_path: list[str] = []
