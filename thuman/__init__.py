"""thuman: capture clothed 3D humans, store THuman items, synthesize corpora, train DeepHuman.

The distribution maps its top-level folders to namespaced packages
(``thuman.capture``, ``thuman.synth``, ``thuman.model``, ``thuman.cli``); the dataset library
is the separate, light ``thuman_io`` package.
"""
from thuman_io.version import TOOLKIT_VERSION as __version__

__all__ = ["__version__"]
