"""ember_papermill: papermill's parameter translator for the Ember kernel.
How papermill finds it is explained in translator.py."""
# papermill loads our entry point while it is itself being imported. Importing
# papermill before any module of ours means that, whichever of the two a
# program imports first, the entry point never meets a half-initialised module.
import papermill  # noqa: F401

from .translator import EmberEngine, EmberTranslator

__all__ = ["EmberEngine", "EmberTranslator"]
