"""numpy images to Qt images (shared by the widgets that show pictures)."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage


def qimage_from_array(img8: np.ndarray) -> QImage:
    """An owned QImage from an H x W x 3 uint8 array."""
    img8 = np.ascontiguousarray(img8)
    h, w = img8.shape[:2]
    return QImage(img8.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
