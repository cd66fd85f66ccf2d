"""HiDPI: at 100 % one photo pixel is exactly one device pixel (run with a 2x screen scale)."""

import os
import subprocess
import sys

import pytest

pytest.importorskip("PySide6")

SCRIPT = r"""
import numpy as np
from PySide6.QtWidgets import QApplication
from clode_desktop.widgets.canvas import Canvas
app = QApplication([])
rng = np.random.default_rng(0)
photo = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
c = Canvas()
c.resize(300, 200)
c.show()
c.set_original(photo, (40, 60))
c.set_result(photo[::-1].copy())
c.actual_size()
c.pan_by(0.3, 0.3)          # off the pixel grid: must still be drawn pixel-exact
app.processEvents()
dpr = c.devicePixelRatioF()
img = c.grab().toImage().convertToFormat(c.grab().toImage().Format.Format_RGB888)
a = np.frombuffer(img.constBits(), np.uint8, count=img.bytesPerLine() * img.height())
a = a.reshape(img.height(), img.bytesPerLine())[:, :img.width() * 3].reshape(img.height(), img.width(), 3)
r = c.photo_rect(c.viewports()[0])
x, y = round(r.left() * dpr), round(r.top() * dpr)
shown = a[y:y + 40, x:x + 60]
print(dpr, c.zoom(), r.width(), np.abs(shown.astype(int) - photo[::-1]).max())
"""


def test_100_percent_is_pixel_exact_on_a_2x_screen():
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_SCALE_FACTOR": "2"}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    dpr, zoom, logical_width, diff = out.stdout.split()
    assert float(dpr) == 2.0 and float(zoom) == 1.0
    assert float(logical_width) == 30.0          # 60 photo pixels in 30 logical = 60 device pixels
    assert int(diff) == 0                        # every photo pixel shown as is, no resampling blur
