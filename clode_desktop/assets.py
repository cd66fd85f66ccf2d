"""The one way to the bundled files (icons, the sample photo, credits) in ``resources/``.

In a source checkout (and an editable install) they are the project's top-level ``resources/``;
a wheel installs them as ``clode_desktop/resources/`` (see ``pyproject.toml``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

_HERE = Path(__file__).resolve().parent


@lru_cache(maxsize=1)
def resources_dir() -> Path:
    for candidate in (_HERE / "resources", _HERE.parent / "resources"):
        if (candidate / "icons").is_dir():
            return candidate
    raise FileNotFoundError(f"the bundled resources are missing (looked in {_HERE / 'resources'} "
                            f"and {_HERE.parent / 'resources'})")


def resource(*parts: str) -> Path:
    """A bundled file, e.g. ``resource("icons", "open.svg")``."""
    return resources_dir().joinpath(*parts)


def sample_photo() -> Path:
    """The dark photo the app opens when started without one."""
    return resource("sample-dark.jpg")
