"""Before Qt starts: can its Linux platform plugin (xcb) load? If not, say which packages to install.

Qt's xcb plugin needs a few X11 libraries that a bare Debian or a minimal Ubuntu leaves out
(libxcb-cursor0 above all, since Qt 6.5). Without them Qt prints a long message and aborts
(SIGABRT). ``missing_libraries`` finds them first, with the dynamic loader's own search, and
``problem`` turns the result into one line naming the Debian/Ubuntu and Fedora packages.
Qt-free on purpose: it runs before PySide6 is imported.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from typing import Callable, Mapping, Optional

#: (loader name, Debian/Ubuntu package, Fedora package) of what Qt's xcb plugin loads.
XCB_LIBRARIES = (
    ("xcb-cursor", "libxcb-cursor0", "xcb-util-cursor"),
    ("xcb-icccm", "libxcb-icccm4", "xcb-util-wm"),
    ("xcb-keysyms", "libxcb-keysyms1", "xcb-util-keysyms"),
    ("xcb-image", "libxcb-image0", "xcb-util-image"),
    ("xcb-render-util", "libxcb-render-util0", "xcb-util-renderutil"),
    ("xcb-xkb", "libxcb-xkb1", "libxcb"),
    ("xkbcommon-x11", "libxkbcommon-x11-0", "libxkbcommon-x11"),
)


def loadable(name: str) -> bool:
    """Whether the dynamic loader finds ``lib<name>`` (found by name, then actually opened)."""
    found = ctypes.util.find_library(name)
    if not found:
        return False
    try:
        ctypes.CDLL(found)
    except OSError:
        return False
    return True


def uses_xcb(env: Mapping[str, str], platform: str = sys.platform) -> bool:
    """Whether Qt will pick its xcb plugin: Linux, no other platform asked for, an X11 session."""
    if not platform.startswith("linux"):
        return False
    asked = env.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if asked:
        return asked == "xcb"
    if env.get("WAYLAND_DISPLAY") and env.get("XDG_SESSION_TYPE", "") != "x11":
        return False                   # Qt prefers its Wayland plugin there
    return bool(env.get("DISPLAY"))


def missing_libraries(env: Optional[Mapping[str, str]] = None, platform: str = sys.platform,
                      find: Optional[Callable[[str], bool]] = None) -> list[tuple[str, str, str]]:
    if not uses_xcb(os.environ if env is None else env, platform):
        return []
    find = find or loadable
    return [lib for lib in XCB_LIBRARIES if not find(lib[0])]


def problem(env: Optional[Mapping[str, str]] = None, platform: str = sys.platform,
            find: Optional[Callable[[str], bool]] = None) -> Optional[str]:
    """One line saying what to install, or None when Qt can start."""
    missing = missing_libraries(env, platform, find)
    if not missing:
        return None
    debian = " ".join(dict.fromkeys(m[1] for m in missing))
    fedora = " ".join(dict.fromkeys(m[2] for m in missing))
    return (f"clode-desktop: Qt cannot open a window: missing X11 libraries ({', '.join('lib' + m[0] for m in missing)}); "
            f"install them with: sudo apt install {debian}  (Fedora: sudo dnf install {fedora})")
