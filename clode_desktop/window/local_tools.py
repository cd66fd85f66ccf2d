"""The local exposure tools of the editor: brush (B), linear (G) and radial (Shift+G) gradients,
the mask overlay (O), and the layer list's changes.

Every finished gesture (a stroke, a gradient, a change in the layer list) is one edit of
``Adjustments.local`` through ``MainWindow.edit_local`` (one undo step, named). While a stroke is
dragged the window renders drafts of the edit with the stroke so far, without recording it.
Points are photo coordinates in units of the photo's long side (``clode.base.local_exposure``)."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Optional

import numpy as np
import torch
from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen

from clode.base.errors import ClodeError
from clode.engine import masks
from clode.base.local_exposure import COORD_HI, COORD_LO, MAX_RADIUS, Brush, Layer, Linear, Radial, Stroke

BRUSH, LINEAR, RADIAL = "brush", "linear", "radial"
TOOL_NAMES = {BRUSH: "Brush", LINEAR: "Linear gradient", RADIAL: "Radial gradient"}
#: Ctrl+wheel: the brush radius per notch; Shift+wheel: the feather per notch.
RADIUS_STEP = 2 ** 0.25
FEATHER_STEP = 0.1
RADIUS_RANGE = (0.002, 0.5)
#: a stroke keeps a point once it is this fraction of the radius from the last one
POINT_SPACING = 0.25
OVERLAY_RGB = (255, 40, 40)
OVERLAY_ALPHA = 0.5


#: a gradient's handle is picked within this many screen pixels of the pointer
HANDLE_PICK = 9.0
#: the smallest radius a radial gradient's handle can give (long-side units)
MIN_RADIUS = 1e-3
GRADIENT_KINDS = {LINEAR: Linear, RADIAL: Radial}


def gradient_handles(shape) -> dict[str, tuple[float, float]]:
    """A gradient's handles by name: a linear one's start and end; a radial one's centre and the ends of
    its two radii (dragging one makes the circle an ellipse, as around a window)."""
    if isinstance(shape, Linear):
        return {"start": shape.start, "end": shape.end}
    if isinstance(shape, Radial):
        (cx, cy), (rx, ry) = shape.centre, shape.radii
        return {"centre": shape.centre, "width": (cx + rx, cy), "height": (cx, cy + ry)}
    return {}


def moved_handle(shape, handle: str, pt: tuple[float, float]):
    """``shape`` with its ``handle`` moved to ``pt`` (None: no gradient, a linear one's ends would meet)."""
    if isinstance(shape, Linear):
        start, end = (pt, shape.end) if handle == "start" else (shape.start, pt)
        return None if start == end else Linear(start, end)
    if isinstance(shape, Radial):
        (cx, cy), (rx, ry) = shape.centre, shape.radii
        if handle == "centre":
            return replace(shape, centre=pt)
        if handle == "width":
            return replace(shape, radii=(_radius(abs(pt[0] - cx)), ry))
        return replace(shape, radii=(rx, _radius(abs(pt[1] - cy))))
    return None


def _radius(r: float) -> float:
    """A radius a radial gradient may have (a drag corner to corner beyond the photo reaches 4.2)."""
    return min(max(r, MIN_RADIUS), MAX_RADIUS)


def _clamp(pt: tuple[float, float]) -> tuple[float, float]:
    return (min(max(pt[0], COORD_LO), COORD_HI), min(max(pt[1], COORD_LO), COORD_HI))


def mask_overlay(layer: Layer, full_size: tuple[int, int], view_size: tuple[int, int],
                 view8: Optional[np.ndarray] = None) -> QImage:
    """The layer's mask as semi-transparent red on the view's grid (``view_size`` (h, w) pixels
    covering a photo of ``full_size`` (H, W)). An edge-aware layer follows the edges of ``view8``
    (the original as the view shows it, h x w x 3 uint8), the luminance the render's masks follow
    (``clode.engine.session``: the mean of the display RGB, in stops), here at the view's resolution."""
    H, W = full_size
    grid = masks.Grid(image=(H, W), region=(0, 0, W, H), shape=(int(view_size[0]), int(view_size[1])))
    guide = reference = None
    if layer.edges and view8 is not None and view8.shape[:2] == grid.shape:
        guide = masks.stops(torch.from_numpy(view8.astype(np.float32).mean(-1) / 255.0))

        def reference(xs, ys):
            return masks.sample(guide, xs, ys, (H, W))
    m = masks.rasterise(layer, grid, guide, reference).numpy()
    rgba = np.empty(m.shape + (4,), np.uint8)
    rgba[..., :3] = OVERLAY_RGB
    rgba[..., 3] = np.round(m * (255 * OVERLAY_ALPHA)).astype(np.uint8)
    h, w = m.shape
    return QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()


class LocalTools(QObject):
    """The tools' state and gestures; ``window`` is the editor's main window."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.canvas = window.canvas
        self.panel = window.panel.layers
        self.tool: Optional[str] = None
        self.selected: Optional[int] = None
        self.radius = 0.05
        self.feather = 0.5
        self.flow = 1.0
        self.new_edges = False               # new layers follow the photo's edges
        self.last_amount = 1.0
        self.overlay = False
        self._start: Optional[tuple[float, float]] = None
        self._now: Optional[tuple[float, float]] = None
        self._points: list[tuple[float, float]] = []
        self._erase = False
        self._handle: Optional[tuple[int, str]] = None    # (layer, handle) of a gradient being adjusted
        self._photo = None                   # the photo whose layers are shown (another: none selected)
        self.panel.amountChanged.connect(self._amount_changed)
        self.panel.visibleChanged.connect(self._visible_changed)
        self.panel.edgesChanged.connect(self._edges_changed)
        self.panel.deleteRequested.connect(self._delete)
        self.panel.layerSelected.connect(self.select)
        brush = self.panel.brush
        brush.sizeChanged.connect(self._brush_size)
        brush.featherChanged.connect(lambda v: setattr(self, "feather", min(max(v, 0.0), 1.0)))
        brush.flowChanged.connect(lambda v: setattr(self, "flow", min(max(v, 0.01), 1.0)))
        brush.edgesChanged.connect(lambda on: setattr(self, "new_edges", on))
        self._show_brush()

    def _brush_size(self, radius: float) -> None:
        self.radius = min(max(radius, RADIUS_RANGE[0]), RADIUS_RANGE[1])
        self.canvas.update()

    def _show_brush(self) -> None:
        self.panel.brush.show_brush(self.radius, self.feather, self.flow, self.new_edges)

    # -- the layers ---------------------------------------------------------------------------------
    @property
    def layers(self) -> tuple[Layer, ...]:
        return self.window.editing.adjustments.local

    def show(self) -> None:
        """The edit changed (a step, an undo, another photo): the list and the overlay follow."""
        layers = self.layers
        if self.window.editing.path != self._photo:
            self._photo, self.selected = self.window.editing.path, None
        if self.selected is not None and self.selected >= len(layers):
            self.selected = len(layers) - 1 if layers else None
        if self.selected is None and layers:
            self.selected = len(layers) - 1
        self.panel.show_layers(layers, self.selected)
        self.update_overlay()

    def select(self, index: int) -> None:
        self.selected = index
        self.update_overlay()

    def _replace(self, index: int, layer: Optional[Layer], label: str) -> None:
        layers = list(self.layers)
        if not 0 <= index < len(layers):
            return
        if layer is None:
            del layers[index]
            if self.selected is not None and self.selected >= index:
                self.selected = max(self.selected - 1, 0) if len(layers) else None
        else:
            layers[index] = layer
        self.window.edit_local(tuple(layers), label)

    def _amount_changed(self, index: int, amount: float) -> None:
        if 0 <= index < len(self.layers):
            self.last_amount = amount
            self._replace(index, _with(self.layers[index], amount=amount), f"Layer {index + 1} amount {amount:+.2f}")

    def _visible_changed(self, index: int, on: bool) -> None:
        if 0 <= index < len(self.layers):
            self._replace(index, _with(self.layers[index], visible=on),
                          f"Layer {index + 1} {'shown' if on else 'hidden'}")

    def _edges_changed(self, index: int, on: bool) -> None:
        if 0 <= index < len(self.layers):
            self._replace(index, _with(self.layers[index], edges=on),
                          f"Layer {index + 1} {'follows edges' if on else 'ignores edges'}")

    def _delete(self, index: int) -> None:
        self._replace(index, None, f"Layer {index + 1} deleted")

    def _add(self, layer: Layer, label: str) -> None:
        self.selected = len(self.layers)
        self.window.edit_local(self.layers + (layer,), label)

    # -- tools --------------------------------------------------------------------------------------
    def set_tool(self, tool: Optional[str]) -> None:
        """Take up ``tool`` (None: leave it); taking up the active tool again leaves it."""
        if tool == self.tool:
            tool = None
        self.tool = tool
        self._start = None
        self._points = []
        self.canvas.tool = self if tool is not None else None
        self.canvas.setCursor(Qt.CursorShape.CrossCursor) if tool else self.canvas.unsetCursor()
        self.window.window_actions.tool_changed(tool)
        self.window.notify(f"{TOOL_NAMES[tool]}: drag on the photo. Esc leaves the tool" if tool else "", 4000)
        self.canvas.update()

    def toggle_overlay(self) -> None:
        self.overlay = not self.overlay
        self.window.window_actions.overlay_action.setChecked(self.overlay)
        self.update_overlay()

    def update_overlay(self, layers: Optional[tuple[Layer, ...]] = None, selected: Optional[int] = None) -> None:
        """Show (or hide) the mask of the selected layer (``selected``: of this one) of ``layers``."""
        layers = self.layers if layers is None else layers
        selected = self.selected if selected is None else selected
        full, view = self.canvas.photo_size(), self.canvas.view_image_size()
        if not self.overlay or selected is None or selected >= len(layers) or full is None or view is None:
            self.canvas.set_mask_overlay(None)
            return
        opened = self.window.editing.opened
        view8 = getattr(opened, "view", None)
        self.canvas.set_mask_overlay(mask_overlay(layers[selected], full, view, view8))

    # -- gestures (called by the canvas with photo points in long-side units) ------------------------
    def press(self, pt: tuple[float, float], modifiers) -> None:
        if not self.window.editing.can_edit:
            return
        pt = _clamp(pt)
        self._start = self._now = pt
        self._handle = self._handle_at(pt)
        self._erase = self.tool == BRUSH and bool(modifiers & Qt.KeyboardModifier.AltModifier)
        self._points = [pt]
        if self.tool == BRUSH:
            self._draft()

    def move(self, pt: tuple[float, float], modifiers) -> None:
        self._now = _clamp(pt)
        if self._start is None:
            self.canvas.update()            # the brush's outline follows the pointer
            return
        if self._handle is not None:
            layers = self._with_handle_moved(self._handle, self._now)
            if layers is not None:
                self._show_draft(layers, self._handle[0])
        elif self.tool == BRUSH:
            last = self._points[-1]
            if math.hypot(self._now[0] - last[0], self._now[1] - last[1]) >= POINT_SPACING * self.radius:
                self._points.append(self._now)
                self._draft()
        else:
            layer = self._gradient(self._start, self._now)
            if layer is not None:               # the gradient's effect follows the drag, too
                self._show_draft(self.layers + (layer,), len(self.layers))
        self.canvas.update()

    def release(self, pt: tuple[float, float], modifiers) -> None:
        if self._start is None:
            return
        end = _clamp(pt)
        start, self._start = self._start, None
        handle, self._handle = self._handle, None
        if handle is not None:
            layers = self._with_handle_moved(handle, end) if end != start else None
            if layers is not None:
                self.window.edit_local(layers, "Move linear gradient" if self.tool == LINEAR
                                       else "Move radial gradient")
        elif self.tool == BRUSH:
            if end != self._points[-1]:
                self._points.append(end)
            layers = self._with_stroke()
            if layers is not None:
                self.window.edit_local(layers, "Erase stroke" if self._erase else "Brush stroke")
        else:
            layer = self._gradient(start, end)
            if layer is not None:
                self._add(layer, "Linear gradient" if self.tool == LINEAR else "Radial gradient")
        self._points = []
        self.canvas.update()

    def wheel(self, steps: float, modifiers) -> bool:
        """Ctrl+wheel: brush radius; Shift+wheel: feather. Returns whether the wheel was used."""
        if self.tool != BRUSH:
            return False
        if modifiers & Qt.KeyboardModifier.ControlModifier:
            self.radius = min(max(self.radius * RADIUS_STEP ** steps, RADIUS_RANGE[0]), RADIUS_RANGE[1])
        elif modifiers & Qt.KeyboardModifier.ShiftModifier:
            self.feather = min(max(self.feather + FEATHER_STEP * steps, 0.0), 1.0)
        else:
            return False
        self._show_brush()
        self.window.notify(f"Brush: radius {self.radius * 100:.1f} % of the long side, feather {self.feather * 100:.0f} %",
                           3000)
        self.canvas.update()
        return True

    def _handle_at(self, pt: tuple[float, float]) -> Optional[tuple[int, str]]:
        """The handle of the selected gradient (of the active tool's kind) under ``pt``, if any."""
        i = self.selected
        kind = GRADIENT_KINDS.get(self.tool or "")
        if kind is None or i is None or i >= len(self.layers) or not isinstance(self.layers[i].shape, kind):
            return None
        at = self.canvas.view_point(pt)
        near = [(math.hypot(p.x() - at.x(), p.y() - at.y()), name)
                for name, p in ((n, self.canvas.view_point(h)) for n, h in gradient_handles(self.layers[i].shape).items())]
        distance, name = min(near)
        return (i, name) if distance <= HANDLE_PICK else None

    def _with_handle_moved(self, handle: tuple[int, str], pt: tuple[float, float]) -> Optional[tuple[Layer, ...]]:
        """The layers with gradient ``handle`` = (layer, name) moved to ``pt`` (None: nothing to change)."""
        i, name = handle
        if i >= len(self.layers):
            return None
        shape = moved_handle(self.layers[i].shape, name, pt)
        if shape is None:
            return None
        layers = list(self.layers)
        layers[i] = _with(layers[i], shape=shape)
        return tuple(layers)

    def _gradient(self, start, end) -> Optional[Layer]:
        """The gradient dragged from ``start`` to ``end`` (None: not yet a gradient)."""
        if self.tool == LINEAR:
            return Layer(Linear(start, end), amount=self.last_amount, edges=self.new_edges) if end != start else None
        r = _radius(math.hypot(end[0] - start[0], end[1] - start[1]))
        return Layer(Radial(start, (r, r)), amount=self.last_amount, edges=self.new_edges)

    def _with_stroke(self) -> Optional[tuple[Layer, ...]]:
        """The layers with the stroke so far: into the selected brush layer, else a new one (an
        erase stroke needs a brush layer to erase from)."""
        stroke = Stroke(tuple(self._points), radius=self.radius, feather=self.feather, flow=self.flow,
                        erase=self._erase)
        layers = list(self.layers)
        i = self.selected
        shape = layers[i].shape if i is not None and i < len(layers) else None
        if i is not None and isinstance(shape, Brush):
            layers[i] = _with(layers[i], shape=Brush(shape.strokes + (stroke,)))
            return tuple(layers)
        if self._erase:
            return None
        self.selected = len(layers)
        return tuple(layers) + (Layer(Brush((stroke,)), amount=self.last_amount, edges=self.new_edges),)

    def _draft(self) -> None:
        selected = self.selected
        layers = self._with_stroke()
        target, self.selected = self.selected, selected     # the stroke is not added yet
        if layers is not None:
            self._show_draft(layers, target)

    def _show_draft(self, layers: tuple[Layer, ...], target: Optional[int]) -> None:
        """Render a draft of the edit with ``layers`` (not recorded: the gesture is not finished);
        the overlay shows layer ``target``, the one being drawn."""
        try:
            adjustments = self.window.editing.adjustments.replace(local=layers)
        except ClodeError:
            return                          # past a layer's bounds: the finished gesture says so
        self.window.request_render(draft=True, adjustments=adjustments)
        if self.overlay:
            self.update_overlay(layers, target)

    # -- drawing on the canvas ---------------------------------------------------------------------
    def paint(self, p: QPainter, to_view) -> None:
        """The brush's outline at the pointer, a gradient's line while it is dragged; ``to_view``
        maps a photo point (long-side units) to view coordinates."""
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setBrush(Qt.BrushStyle.NoBrush)
        if self.tool == BRUSH and self._now is not None:
            c = to_view(self._now)
            edge = to_view((self._now[0] + self.radius, self._now[1]))
            r = edge.x() - c.x()
            for colour, width in ((QColor(0, 0, 0, 160), 3), (QColor(240, 240, 240), 1)):
                p.setPen(QPen(colour, width))
                p.drawEllipse(c, r, r)
                if self.feather > 0:
                    p.setPen(QPen(colour, width, Qt.PenStyle.DotLine))
                    p.drawEllipse(c, r * (1 - self.feather), r * (1 - self.feather))
        elif self.tool in (LINEAR, RADIAL) and self._handle is None and self._start is not None and self._now is not None:
            a, b = to_view(self._start), to_view(self._now)
            for colour, width in ((QColor(0, 0, 0, 160), 3), (QColor(240, 240, 240), 1)):
                p.setPen(QPen(colour, width))
                if self.tool == LINEAR:
                    p.drawLine(a, b)
                else:
                    r = math.hypot(b.x() - a.x(), b.y() - a.y())
                    p.drawEllipse(a, r, r)
                    p.drawLine(a, b)
        self._paint_handles(p, to_view)
        p.restore()

    def _paint_handles(self, p: QPainter, to_view) -> None:
        """The selected gradient's outline and handles, while its tool is active (drag one to adjust it)."""
        i, kind = self.selected, GRADIENT_KINDS.get(self.tool or "")
        if kind is None or i is None or i >= len(self.layers) or (self._start is not None and self._handle is None):
            return
        shape = self.layers[i].shape
        if self._handle is not None and self._now is not None:
            shape = moved_handle(shape, self._handle[1], self._now) or shape
        if not isinstance(shape, kind):
            return
        handles = {name: to_view(pt) for name, pt in gradient_handles(shape).items()}
        for colour, width in ((QColor(0, 0, 0, 160), 3), (QColor(240, 240, 240), 1)):
            p.setPen(QPen(colour, width, Qt.PenStyle.DashLine))
            if isinstance(shape, Linear):
                p.drawLine(handles["start"], handles["end"])
            else:
                c = handles["centre"]
                p.drawEllipse(c, handles["width"].x() - c.x(), handles["height"].y() - c.y())
            p.setPen(QPen(colour, width))
            for h in handles.values():
                p.drawEllipse(h, HANDLE_PICK / 2, HANDLE_PICK / 2)


def _with(layer: Layer, **changes) -> Layer:
    return replace(layer, **changes)


