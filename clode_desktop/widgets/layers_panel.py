"""The side panel's local exposure: the brush's options (size, feather, flow, whether new layers follow
the photo's edges) and the list of layers, one row per layer (which one is selected, its kind, its
amount, show/hide, follow edges, delete). The panel only reports what the user did; the window makes
each change an edit (one undo step) and shows the layers again."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QDoubleSpinBox, QGridLayout, QHBoxLayout, QLabel,
                               QRadioButton, QToolButton, QVBoxLayout, QWidget)

from clode.base.local_exposure import KINDS, MAX_AMOUNT, Layer

KIND_NAMES = {"brush": "Brush", "linear": "Linear", "radial": "Radial"}
EMPTY_TEXT = "No layers. B: brush, G: linear gradient, Shift+G: radial gradient"


def layer_name(index: int, layer: Layer) -> str:
    return f"{index + 1} {KIND_NAMES[KINDS[type(layer.shape)]]}"


class LayerRow(QWidget):
    def __init__(self, index: int, layer: Layer, group: QButtonGroup, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.choose = QRadioButton(layer_name(index, layer))
        self.choose.setToolTip("Select this layer (the brush paints into it; O shows its mask)")
        group.addButton(self.choose, index)
        self.amount = QDoubleSpinBox()
        self.amount.setObjectName("layerAmount")
        self.amount.setRange(-MAX_AMOUNT, MAX_AMOUNT)
        self.amount.setSingleStep(0.25)
        self.amount.setDecimals(2)
        self.amount.setKeyboardTracking(False)      # one edit per value typed, not per digit
        self.amount.setToolTip("Exposure time added where the mask is (negative darkens)")
        self.visible = QCheckBox()
        self.visible.setObjectName("layerVisible")
        self.visible.setToolTip("Show or hide the layer's effect")
        self.edges = QToolButton()
        self.edges.setObjectName("layerEdges")
        self.edges.setText("◐")
        self.edges.setCheckable(True)
        self.edges.setToolTip("Follow the photo's edges: the mask keeps to objects as bright or dark as "
                              "where it was painted")
        self.delete = QToolButton()
        self.delete.setObjectName("layerDelete")
        self.delete.setText("✕")
        self.delete.setToolTip("Delete the layer")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.choose, 1)
        row.addWidget(self.amount)
        row.addWidget(self.visible)
        row.addWidget(self.edges)
        row.addWidget(self.delete)
        self.show_layer(layer)

    def show_layer(self, layer: Layer) -> None:
        for widget, set_ in ((self.amount, lambda: self.amount.setValue(layer.amount)),
                             (self.visible, lambda: self.visible.setChecked(layer.visible)),
                             (self.edges, lambda: self.edges.setChecked(layer.edges))):
            blocked = widget.blockSignals(True)
            set_()
            widget.blockSignals(blocked)


def _percent_box(name: str, lo: float, hi: float, decimals: int, tip: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setObjectName(name)
    box.setRange(lo, hi)
    box.setDecimals(decimals)
    box.setSuffix(" %")
    box.setKeyboardTracking(False)
    box.setToolTip(tip)
    return box


class BrushOptions(QWidget):
    """What the next brush stroke (and the next new layer) is made with. The wheel on the photo sets
    size and feather too (Ctrl+wheel, Shift+wheel); these boxes show and take the same values."""
    sizeChanged = Signal(float)          # the radius, in long-side units
    featherChanged = Signal(float)       # 0-1
    flowChanged = Signal(float)          # 0-1
    edgesChanged = Signal(bool)          # new layers follow the photo's edges

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("brushOptions")
        self.size_box = _percent_box("brushSize", 0.2, 50.0, 1, "The brush's radius, in % of the photo's long side "
                                 "(Ctrl+wheel on the photo)")
        self.feather_box = _percent_box("brushFeather", 0, 100, 0, "How much of the radius fades out: 0 % a hard "
                                    "edge, 100 % soft from the centre (Shift+wheel on the photo)")
        self.flow_box = _percent_box("brushFlow", 1, 100, 0, "How much one stroke adds: strokes over strokes "
                                 "build up to the layer's amount")
        self.edges_box = QCheckBox("Follow edges")
        self.edges_box.setObjectName("newLayerEdges")
        self.edges_box.setToolTip("New layers follow the photo's edges (◐ in a layer's row changes one layer)")
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 4)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(2)
        for col, (label, box) in enumerate((("Size", self.size_box), ("Feather", self.feather_box))):
            grid.addWidget(QLabel(label), 0, 2 * col)
            grid.addWidget(box, 0, 2 * col + 1)
        grid.addWidget(QLabel("Flow"), 1, 0)
        grid.addWidget(self.flow_box, 1, 1)
        grid.addWidget(self.edges_box, 1, 2, 1, 2)
        self.size_box.valueChanged.connect(lambda v: self.sizeChanged.emit(float(v) / 100))
        self.feather_box.valueChanged.connect(lambda v: self.featherChanged.emit(float(v) / 100))
        self.flow_box.valueChanged.connect(lambda v: self.flowChanged.emit(float(v) / 100))
        self.edges_box.toggled.connect(lambda on: self.edgesChanged.emit(bool(on)))

    def show_brush(self, radius: float, feather: float, flow: float, edges: bool) -> None:
        """Show the tools' values without reporting them back."""
        for widget, set_ in ((self.size_box, lambda: self.size_box.setValue(radius * 100)),
                             (self.feather_box, lambda: self.feather_box.setValue(feather * 100)),
                             (self.flow_box, lambda: self.flow_box.setValue(flow * 100)),
                             (self.edges_box, lambda: self.edges_box.setChecked(edges))):
            blocked = widget.blockSignals(True)
            set_()
            widget.blockSignals(blocked)


class LayersPanel(QWidget):
    amountChanged = Signal(int, float)
    visibleChanged = Signal(int, bool)
    edgesChanged = Signal(int, bool)
    deleteRequested = Signal(int)
    layerSelected = Signal(int)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("layersPanel")
        self.rows: list[LayerRow] = []
        self._kinds: tuple = ()
        self.group = QButtonGroup(self)
        self.group.idClicked.connect(self.layerSelected)
        self.empty = QLabel(EMPTY_TEXT)
        self.empty.setObjectName("hint")
        self.empty.setWordWrap(True)
        self.brush = BrushOptions()
        self.box = QVBoxLayout(self)
        self.box.setContentsMargins(0, 0, 0, 0)
        self.box.setSpacing(2)
        self.box.addWidget(self.brush)
        self.box.addWidget(self.empty)

    def show_layers(self, layers: tuple[Layer, ...], selected: Optional[int]) -> None:
        """Show ``layers``; rows are rebuilt only when the kinds change, so a spin box that emitted
        the change being shown is not deleted under its own signal."""
        kinds = tuple(type(layer.shape) for layer in layers)
        if kinds != self._kinds:
            for row in self.rows:
                self.group.removeButton(row.choose)
                row.hide()
                row.deleteLater()
            self.rows = []
            for i, layer in enumerate(layers):
                row = LayerRow(i, layer, self.group, self)
                row.amount.valueChanged.connect(lambda v, i=i: self.amountChanged.emit(i, float(v)))
                row.visible.toggled.connect(lambda on, i=i: self.visibleChanged.emit(i, bool(on)))
                row.edges.toggled.connect(lambda on, i=i: self.edgesChanged.emit(i, bool(on)))
                row.delete.clicked.connect(lambda _=False, i=i: self.deleteRequested.emit(i))
                self.box.addWidget(row)
                self.rows.append(row)
            self._kinds = kinds
        for row, layer in zip(self.rows, layers):
            row.show_layer(layer)
        self.empty.setVisible(not layers)
        if selected is not None and 0 <= selected < len(self.rows):
            blocked = self.group.blockSignals(True)
            self.rows[selected].choose.setChecked(True)
            self.group.blockSignals(blocked)

    def set_enabled(self, on: bool) -> None:
        self.setEnabled(on)

