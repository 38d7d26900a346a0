"""Sphinx configuration: the Markdown pages of docs/ (MyST) and an API reference from the
docstrings (autodoc).  Build: ``python -m sphinx -W -b html docs docs/_build``."""
import sbp_brian

project = "sbp-brian"
release = version = sbp_brian.__version__
extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
myst_heading_anchors = 3
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_numpy_docstring = True
napoleon_google_docstring = False
html_theme = "alabaster"
html_static_path = []
