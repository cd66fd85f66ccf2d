"""The package version, in a module of its own so any module can import it without a cycle through
``clode/__init__.py``."""

__version__ = "0.1.0"
