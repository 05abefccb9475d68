"""pytest-prodcheck: is this deployment production-ready, item by item, with evidence?"""

from pytest_prodcheck._version import __version__

__all__ = ["__version__"]
