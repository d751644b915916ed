"""mmhvit: hierarchical vision transformers for OpenMMLab.

Importing it registers nothing and changes nothing in the upstream
packages; the registries (``mmhvit.registry``) import the modules a config
names, and ``tools/`` apply the version fixes of ``mmhvit.compat``.
"""
from .version import __version__

__all__ = ['__version__']
