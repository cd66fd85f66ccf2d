"""Small widgets of the training panel: a hint line, a captioned thumbnail, the model comparison."""

from __future__ import annotations

from typing import Optional

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from .qimage import qimage_from_array

PREVIEW_SIDE = 150               # long side of the before/after thumbnails
COMPARE_VIEW = 420               # long side of the default-vs-yours frames


def hint(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("hint")
    label.setWordWrap(True)
    return label


class Thumb(QWidget):
    """A small image with a caption under it."""

    def __init__(self, caption: str, side: int = PREVIEW_SIDE) -> None:
        super().__init__()
        self.image = QLabel()
        self.image.setFixedSize(side, side)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setStyleSheet("background: #1e1e1e; color: #777;")
        self.caption = QLabel(caption)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setObjectName("hint")
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(3)
        box.addWidget(self.image)
        box.addWidget(self.caption)
        self._img8: Optional[np.ndarray] = None

    def set_image(self, img8: Optional[np.ndarray], caption: Optional[str] = None) -> None:
        self._img8 = img8
        if img8 is None:
            self.image.clear()
        else:
            pm = QPixmap.fromImage(qimage_from_array(img8))
            self.image.setPixmap(pm.scaled(self.image.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.SmoothTransformation))
        if caption is not None:
            self.caption.setText(caption)

    def array(self) -> Optional[np.ndarray]:
        return self._img8


class CompareDialog(QDialog):
    """The current photo by the default model and by one of the user's, side by side."""

    def __init__(self, name: str, T: float, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Default model vs {name}")
        self.left = Thumb(f"Default model · T {T:.2f}", COMPARE_VIEW)
        self.right = Thumb(f"{name} · T {T:.2f}", COMPARE_VIEW)
        for t in (self.left, self.right):
            t.image.setText("Rendering…")
        row = QHBoxLayout()
        row.addWidget(self.left)
        row.addWidget(self.right)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        box = QVBoxLayout(self)
        box.addLayout(row)
        box.addWidget(buttons)

    def show_results(self, pair: tuple[np.ndarray, np.ndarray]) -> None:
        self.left.set_image(pair[0])
        self.right.set_image(pair[1])

    def show_error(self, message: str) -> None:
        self.left.image.setText("")
        self.right.image.setText(message)
        self.right.image.setWordWrap(True)
