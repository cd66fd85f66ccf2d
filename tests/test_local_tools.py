"""The editor's local exposure tools (issue 30): the layer list, the gradient and brush tools on the
canvas (driven by mouse events), the mask overlay, their actions and keys, one undo step each."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from clode.base.adjustments import Adjustments
from clode.base.local_exposure import COORD_HI, COORD_LO, MAX_STROKES, Brush, Layer, Linear, Radial, Stroke
from clode_desktop.window.local_tools import BRUSH, LINEAR, RADIAL, gradient_handles, moved_handle
from clode_desktop.dialogs.shortcuts_dialog import GESTURES, shortcut_rows

from conftest import WAIT, final_render, open_and_render

pytestmark = pytest.mark.usefixtures("user_data", "one_torch_thread")


def view_pos(window, pt) -> QPoint:
    p = window.canvas.view_point(pt)
    return QPoint(round(p.x()), round(p.y()))


def drag(qtbot, window, points, modifier=Qt.KeyboardModifier.NoModifier, while_dragging=None):
    canvas = window.canvas
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, modifier, view_pos(window, points[0]))
    for pt in points[1:]:
        qtbot.mouseMove(canvas, view_pos(window, pt))
    if while_dragging is not None:
        while_dragging()
    with qtbot.waitSignal(**final_render(window)) as blocker:
        qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, modifier, view_pos(window, points[-1]))
    return blocker.args[0]


def brightness(image, x0, x1) -> float:
    """Mean brightness of the columns x0..x1 (fractions of the width) of a rendered image."""
    w = image.shape[1]
    return float(image[:, int(x0 * w):int(x1 * w)].astype(np.float64).mean())


@pytest.fixture
def window(qtbot, make_window, jpeg):
    w = make_window()
    w.set_compare_mode("result")
    open_and_render(qtbot, w, jpeg)
    return w


def test_a_linear_gradient_lifts_its_side_in_one_undo_step(qtbot, window):
    before = window.last_render.image
    steps = len(window.editing.history)
    window.window_actions.tool_actions[LINEAR].trigger()
    assert window.local.tool == LINEAR and window.canvas.tool is window.local
    # the photo is 96 x 64: long-side units x in [0, 1], y in [0, 2/3]; full effect left of x = 0.3
    drafts = []
    window.rendered.connect(lambda r: drafts.append(r) if r.draft else None)

    def a_draft_arrives():              # the gradient's effect shows while it is dragged
        qtbot.waitUntil(lambda: bool(drafts), timeout=WAIT)
        assert len(drafts[-1].adjustments.local) == 1 and not window.adjustments.local
    r = drag(qtbot, window, [(0.3, 0.33), (0.5, 0.33), (0.7, 0.33)], while_dragging=a_draft_arrives)
    (layer,) = window.adjustments.local
    assert isinstance(layer.shape, Linear) and layer.amount == 1.0
    assert layer.shape.start == pytest.approx((0.3, 0.33), abs=0.02)
    assert layer.shape.end == pytest.approx((0.7, 0.33), abs=0.02)
    assert len(window.editing.history) == steps + 1
    assert window.editing.history.entries()[-1][0] == "Linear gradient"
    left = brightness(r.image, 0, 0.25) - brightness(before, 0, 0.25)
    right = brightness(r.image, 0.75, 1) - brightness(before, 0.75, 1)
    assert left > 3 and abs(right) < 0.5, (left, right)
    assert [row.choose.text() for row in window.panel.layers.rows] == ["1 Linear"]
    with qtbot.waitSignal(**final_render(window)):
        window.undo()
    assert window.adjustments.local == () and window.panel.layers.rows == []


def test_a_radial_gradient_from_the_key_and_the_layer_list(qtbot, window):
    window.activateWindow()
    qtbot.keyClick(window.canvas, Qt.Key.Key_G, Qt.KeyboardModifier.ShiftModifier)
    assert window.local.tool == RADIAL and window.window_actions.tool_actions[RADIAL].isChecked()
    before = window.last_render.image
    r = drag(qtbot, window, [(0.8, 0.33), (0.9, 0.33)])
    (layer,) = window.adjustments.local
    assert isinstance(layer.shape, Radial) and layer.shape.radii[0] == pytest.approx(0.1, abs=0.02)
    assert brightness(r.image, 0.75, 0.85) - brightness(before, 0.75, 0.85) > 3
    assert abs(brightness(r.image, 0, 0.5) - brightness(before, 0, 0.5)) < 0.5
    # the layer list: amount, hide, delete; each one step with a name
    row = window.panel.layers.rows[0]
    with qtbot.waitSignal(**final_render(window)):
        row.amount.setValue(-1.0)
    assert window.adjustments.local[0].amount == -1.0
    assert window.editing.history.entries()[-1][0] == "Layer 1 amount -1.00"
    with qtbot.waitSignal(**final_render(window)) as blocker:
        row.visible.setChecked(False)
    assert not window.adjustments.local[0].visible
    assert window.editing.history.entries()[-1][0] == "Layer 1 hidden"
    np.testing.assert_array_equal(blocker.args[0].image, before)
    with qtbot.waitSignal(**final_render(window)):
        window.panel.layers.rows[0].delete.click()
    assert window.adjustments.local == ()
    assert window.editing.history.entries()[-1][0] == "Layer 1 deleted"
    qtbot.keyClick(window.canvas, Qt.Key.Key_Escape)
    assert window.local.tool is None and window.canvas.tool is None


def test_a_brush_stroke_renders_while_dragged_and_is_one_step(qtbot, window):
    window.activateWindow()
    qtbot.keyClick(window.canvas, Qt.Key.Key_B)
    assert window.local.tool == BRUSH
    # Ctrl+wheel makes the brush larger; the plain wheel still zooms
    radius, zoom = window.local.radius, window.canvas.zoom()
    wheel(window, Qt.KeyboardModifier.ControlModifier, 120)
    assert window.local.radius > radius and window.canvas.zoom() == zoom
    wheel(window, Qt.KeyboardModifier.ShiftModifier, -120)
    assert window.local.feather == pytest.approx(0.4)
    window.local.radius = 0.12
    before = window.last_render.image
    steps = len(window.editing.history)
    drafts = []
    window.rendered.connect(lambda r: drafts.append(r) if r.draft else None)
    window.local.toggle_overlay()
    assert window.canvas.mask_overlay() is None                 # no layer yet

    def a_draft_arrives():
        qtbot.waitUntil(lambda: bool(drafts), timeout=WAIT)      # before the button is released
        assert drafts[-1].adjustments.local and not window.adjustments.local   # shown, not yet a step
        assert brightness(drafts[-1].image, 0.1, 0.2) > brightness(before, 0.1, 0.2)
        assert window.canvas.mask_overlay() is not None     # the overlay shows the stroke being painted
    r = drag(qtbot, window, [(0.15, 0.2), (0.15, 0.3), (0.15, 0.4), (0.15, 0.5)], while_dragging=a_draft_arrives)
    (layer,) = window.adjustments.local
    assert isinstance(layer.shape, Brush) and len(layer.shape.strokes) == 1
    assert len(layer.shape.strokes[0].points) >= 3
    assert len(window.editing.history) == steps + 1
    assert window.editing.history.entries()[-1][0] == "Brush stroke"
    assert brightness(r.image, 0.1, 0.2) - brightness(before, 0.1, 0.2) > 3
    assert abs(brightness(r.image, 0.5, 1) - brightness(before, 0.5, 1)) < 0.5
    # Alt+drag erases from the selected brush layer, one more step
    drag(qtbot, window, [(0.15, 0.2), (0.15, 0.5)], Qt.KeyboardModifier.AltModifier)
    (layer,) = window.adjustments.local
    assert layer.shape.strokes[-1].erase and window.editing.history.entries()[-1][0] == "Erase stroke"
    with qtbot.waitSignal(**final_render(window)):
        window.undo()
    assert len(window.adjustments.local[0].shape.strokes) == 1
    with qtbot.waitSignal(**final_render(window)) as blocker:
        window.undo()
    assert window.adjustments.local == ()
    np.testing.assert_array_equal(blocker.args[0].image, before)


def test_a_gradients_handles_adjust_it_in_one_step_each(qtbot, window, artifacts):
    """A placed gradient is adjusted by dragging its handles (a radial one becomes an ellipse, as a
    window needs); a drag away from the handles places a new gradient."""
    window.local.set_tool(RADIAL)
    drag(qtbot, window, [(0.5, 0.33), (0.6, 0.33)])
    steps = len(window.editing.history)
    drag(qtbot, window, [(0.6, 0.33), (0.65, 0.33), (0.7, 0.33)])          # the width handle
    (layer,) = window.adjustments.local
    assert layer.shape.centre == pytest.approx((0.5, 0.33), abs=0.02)
    assert layer.shape.radii == pytest.approx((0.2, 0.1), abs=0.02)
    assert window.editing.history.entries()[-1][0] == "Move radial gradient"
    drag(qtbot, window, [(0.5, 0.43), (0.5, 0.38)])                         # the height handle
    assert window.adjustments.local[0].shape.radii == pytest.approx((0.2, 0.05), abs=0.02)
    drag(qtbot, window, [(0.5, 0.33), (0.4, 0.3)])                          # the centre moves it whole
    (layer,) = window.adjustments.local
    assert layer.shape.centre == pytest.approx((0.4, 0.3), abs=0.02)
    assert layer.shape.radii == pytest.approx((0.2, 0.05), abs=0.02)
    assert len(window.editing.history) == steps + 3
    qtbot.mouseMove(window.canvas, view_pos(window, (0.1, 0.1)))
    window.grab().save(str(artifacts / "local-radial-handles.png"))
    with qtbot.waitSignal(**final_render(window)):
        window.undo()
    assert window.adjustments.local[0].shape.centre == pytest.approx((0.5, 0.33), abs=0.02)
    # a linear gradient's end handle; a drag away from the handles is a new gradient
    window.local.set_tool(LINEAR)
    drag(qtbot, window, [(0.2, 0.1), (0.2, 0.3)])
    assert len(window.adjustments.local) == 2
    drag(qtbot, window, [(0.2, 0.3), (0.35, 0.45)])
    linear = window.adjustments.local[1].shape
    assert linear.start == pytest.approx((0.2, 0.1), abs=0.02) and linear.end == pytest.approx((0.35, 0.45), abs=0.02)
    assert window.editing.history.entries()[-1][0] == "Move linear gradient"
    drag(qtbot, window, [(0.8, 0.1), (0.9, 0.1)])
    assert len(window.adjustments.local) == 3


coord = st.floats(COORD_LO, COORD_HI)
point = st.tuples(coord, coord)


@settings(max_examples=150, deadline=None)
@given(point, point, point, st.sampled_from(["start", "end", "centre", "width", "height"]))
def test_any_handle_drag_gives_a_gradient_the_sidecar_accepts(a, b, to, handle):
    """Wherever a handle is dragged (the tools clamp points to the coordinate range), the gradient
    stays one an edit and a sidecar accept: a refused value would be an error in the middle of a drag."""
    shape = Linear(a, b) if handle in ("start", "end") else Radial(a, (0.1, 0.2))
    if handle in gradient_handles(shape) and a != b:
        moved = moved_handle(shape, handle, to)
        if moved is not None:
            Adjustments().replace(local=(Layer(moved),))


def test_a_radial_dragged_corner_to_corner_beyond_the_photo_is_kept(qtbot, window):
    window.local.set_tool(RADIAL)
    window.local.press((-5.0, -5.0), Qt.KeyboardModifier.NoModifier)     # clamped to the coordinate range
    window.local.move((5.0, 5.0), Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(**final_render(window)):
        window.local.release((5.0, 5.0), Qt.KeyboardModifier.NoModifier)
    (layer,) = window.adjustments.local
    assert layer.shape.radii == pytest.approx((4.0, 4.0))               # hypot 4.24 would be refused


def test_a_stroke_past_a_layers_bounds_is_one_line_not_an_error(qtbot, window):
    full = Layer(Brush(tuple(Stroke(((0.01, 0.01),), radius=0.002) for _ in range(MAX_STROKES))), amount=1.0)
    with qtbot.waitSignal(**final_render(window)):
        window.edit_local((full,), "Many strokes")
    steps = len(window.editing.history)
    window.local.set_tool(BRUSH)
    window.local.press((0.5, 0.3), Qt.KeyboardModifier.NoModifier)       # into the selected, full layer
    window.local.move((0.5, 0.4), Qt.KeyboardModifier.NoModifier)
    window.local.release((0.5, 0.4), Qt.KeyboardModifier.NoModifier)
    assert window.adjustments.local == (full,) and len(window.editing.history) == steps
    message = window.status.message_label.text()
    assert "Brush stroke not applied" in message and "at most 2000" in message


def wheel(window, modifiers, delta):
    canvas = window.canvas
    pos = QPointF(canvas.width() / 2, canvas.height() / 2)
    event = QWheelEvent(pos, canvas.mapToGlobal(pos), QPoint(), QPoint(0, delta), Qt.MouseButton.NoButton,
                        modifiers, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(canvas, event)


def test_the_brush_options_show_and_set_what_the_next_stroke_is_made_with(qtbot, window, artifacts):
    options = window.panel.layers.brush
    window.local.set_tool(BRUSH)
    assert options.size_box.value() == pytest.approx(window.local.radius * 100)
    wheel(window, Qt.KeyboardModifier.ControlModifier, 120)               # the wheel's size shows in the box
    assert options.size_box.value() == pytest.approx(window.local.radius * 100, abs=0.05) and window.local.radius > 0.05
    for box, text in ((options.size_box, "8"), (options.feather_box, "20"), (options.flow_box, "50")):
        box.setFocus()
        box.selectAll()
        qtbot.keyClicks(box, text)
        qtbot.keyClick(box, Qt.Key.Key_Return)
    qtbot.mouseClick(options.edges_box, Qt.MouseButton.LeftButton)
    assert (window.local.radius, window.local.feather, window.local.flow, window.local.new_edges) == \
        pytest.approx((0.08, 0.2, 0.5, True))
    drag(qtbot, window, [(0.2, 0.2), (0.2, 0.4)])
    (layer,) = window.adjustments.local
    (stroke,) = layer.shape.strokes
    assert layer.edges and (stroke.radius, stroke.feather, stroke.flow) == pytest.approx((0.08, 0.2, 0.5))
    window.local.set_tool(RADIAL)
    drag(qtbot, window, [(0.8, 0.3), (0.9, 0.3)])
    assert window.adjustments.local[1].edges                              # new gradients follow edges too
    window.resize(1100, 800)
    window.panel.grab().save(str(artifacts / "local-brush-options.png"))


def test_the_overlay_shows_the_selected_layers_mask(qtbot, window, artifacts):
    layer = Layer(Brush((Stroke(((0.2, 0.2), (0.3, 0.4)), radius=0.1),)), amount=1.5)
    with qtbot.waitSignal(**final_render(window)):
        window.edit_local((layer, Layer(Linear((0.9, 0.0), (0.6, 0.0)), amount=-1.0)), "Two layers")
    window.activateWindow()
    qtbot.keyClick(window.canvas, Qt.Key.Key_O)
    assert window.local.overlay and window.window_actions.overlay_action.isChecked()
    mask = window.canvas.mask_overlay()
    assert mask is not None and (mask.height(), mask.width()) == window.canvas.view_image_size()
    alpha = np.frombuffer(mask.constBits(), np.uint8).reshape(mask.height(), mask.width(), 4)[..., 3]
    # the selected layer is the newest (the linear gradient, full on the right)
    assert alpha[:, -5:].mean() > 100 and alpha[:, :5].mean() == 0
    window.panel.layers.rows[0].choose.click()
    mask = window.canvas.mask_overlay()
    alpha = np.frombuffer(mask.constBits(), np.uint8).reshape(mask.height(), mask.width(), 4)[..., 3]
    h, w = alpha.shape
    assert alpha[int(0.3 * w), int(0.25 * w)] > 100 and alpha[:, -10:].max() == 0
    # follow edges: one step; the overlay follows the photo's edges as the render's mask does
    with qtbot.waitSignal(**final_render(window)):
        window.panel.layers.rows[0].edges.click()
    assert window.adjustments.local[0].edges and window.editing.history.entries()[-1][0] == "Layer 1 follows edges"
    edged = window.canvas.mask_overlay()
    edged = np.frombuffer(edged.constBits(), np.uint8).reshape(h, w, 4)[..., 3]
    assert np.abs(edged.astype(int) - alpha).max() > 20 and edged.max() > 0
    window.resize(1100, 800)
    window.panel.grab().save(str(artifacts / "local-layers-panel.png"))
    window.grab().save(str(artifacts / "local-overlay.png"))
    window.local.set_tool(BRUSH)
    qtbot.mouseMove(window.canvas, view_pos(window, (0.6, 0.4)))
    assert window.local._now == pytest.approx((0.6, 0.4), abs=0.02)   # the brush outline follows
    window.grab().save(str(artifacts / "local-brush-tool.png"))
    window.window_actions.overlay_action.trigger()
    assert not window.local.overlay and window.canvas.mask_overlay() is None


def test_side_by_side_either_half_paints_the_same_place(qtbot, window):
    window.set_compare_mode("side")
    window.local.set_tool(LINEAR)
    left, right = window.canvas.viewports()
    pos = window.canvas.view_point((0.5, 0.3), left)
    assert window.canvas.photo_point(pos) == pytest.approx((0.5, 0.3), abs=1e-6)
    pos = window.canvas.view_point((0.5, 0.3), right)
    assert window.canvas.photo_point(pos) == pytest.approx((0.5, 0.3), abs=1e-6)
    window.canvas.grab()                                # the outline is drawn in both halves


def test_the_tools_wait_for_a_photo(make_window):
    w = make_window()
    assert not w.window_actions.tool_actions[BRUSH].isEnabled() and not w.window_actions.overlay_action.isEnabled()
    assert not w.panel.layers.isEnabled()


def test_the_tools_are_in_the_menu_and_the_shortcut_list(window):
    rows = {(name, keys) for name, keys, _ in shortcut_rows(window)}
    for name, keys in (("Brush", "B"), ("Linear Gradient", "G"), ("Radial Gradient", "Shift+G"),
                       ("Show Mask Overlay", "O"), ("Leave Tool", "Esc")):
        assert (name, keys) in rows, (name, keys, sorted(rows))
    assert any("Ctrl+wheel" in keys for _, keys, _ in GESTURES)
    window.window_actions.tool_actions[BRUSH].trigger()
    window.window_actions.tool_actions[BRUSH].trigger()        # the active tool's key again leaves it
    assert window.local.tool is None

