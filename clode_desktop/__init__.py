"""CLODE Desktop, the Qt application. All Qt code lives in this package; ``clode`` stays Qt-free."""
