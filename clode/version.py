"""The package version, in a module of its own so any module can import it without importing
the whole package (``clode/__init__.py`` imports most of the core)."""

__version__ = "0.1.0"
