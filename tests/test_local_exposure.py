"""Local exposure layers (clode.base.local_exposure, clode.engine.masks): values that round-trip through the
sidecar, masks on any grid, an edge-aware brush that stays on its object, and the same pixels from
the editor's session, ``clode enhance --mask`` and ``clode batch --T sidecar``."""

import json

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from clode import Enhancer
from clode.base.adjustments import Adjustments
from clode.commands.cli import main as cli
from clode.base.errors import ClodeError
from clode.base.finish import Finish
from clode.io.imageio import load_image
from clode.base.local_exposure import MAX_AMOUNT, Brush, Layer, Linear, Radial, Stroke, layers_to_json, parse_layers
from clode.engine.masks import Grid, rasterise
from clode.io.sidecar import load, save_settings

coord = st.floats(-1.0, 2.0, allow_nan=False)
point = st.tuples(coord, coord)
unit = st.floats(0.0, 1.0, allow_nan=False)
strokes = st.builds(Stroke, st.lists(point, min_size=1, max_size=6).map(tuple),
                    radius=st.floats(1e-4, 1.0), feather=unit, flow=unit, erase=st.booleans())
shapes = st.one_of(st.builds(Brush, st.lists(strokes, max_size=3).map(tuple)),
                   st.builds(Linear, point, point),
                   st.builds(Radial, point, st.tuples(st.floats(1e-4, 4.0), st.floats(1e-4, 4.0)),
                             feather=unit, inside=st.booleans()))
layers = st.lists(st.builds(Layer, shapes, amount=st.floats(-MAX_AMOUNT, MAX_AMOUNT), visible=st.booleans(),
                            edges=st.booleans()), max_size=4).map(tuple)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layers)
def test_layers_round_trip_exactly_through_json(local):
    a = Adjustments(T=2.0, local=local)
    back = Adjustments.from_mapping(json.loads(json.dumps(a.to_dict())))
    assert back == a and hash(back) == hash(a)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(layers)
def test_layers_round_trip_exactly_through_the_sidecar(tmp_path, local):
    photo = tmp_path / "p.jpg"
    a = Adjustments(T=1.5, protect=0.3, local=local)
    save_settings(photo, a.to_dict())
    saved = load(photo)
    assert saved.problems == [] and saved.adjustments() == a


junk = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=20)
damaged_layer = st.fixed_dictionaries({"kind": st.sampled_from(["brush", "linear", "radial", "blob"])},
                                      optional={"strokes": junk, "start": junk, "end": junk, "centre": junk,
                                                "radii": junk, "amount": junk, "visible": junk})


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(junk, st.lists(damaged_layer, min_size=1, max_size=3)))
def test_damaged_layers_fall_back_to_none_with_one_warning(tmp_path, local):
    photo = tmp_path / "p.jpg"
    (tmp_path / "p.jpg.clode.json").write_text(json.dumps({"settings": {"T": 2.0, "local": local}}))
    saved = load(photo)
    try:
        expected = parse_layers(local)
    except ClodeError:
        assert saved.adjustments().local == () and len(saved.problems) == 1
        assert "local exposure" in saved.warning() and saved.adjustments().T == 2.0
    else:
        assert saved.adjustments().local == expected and saved.problems == []


def test_a_bad_layer_is_one_clear_error():
    with pytest.raises(ClodeError, match="local exposure: a layer's amount 5: must be -3 to 3"):
        Adjustments(local=()).replace(local=[{"kind": "linear", "start": [0, 0], "end": [1, 1], "amount": 5}])
    with pytest.raises(ClodeError, match="unknown layer kind"):
        parse_layers([{"kind": "lasso"}])


def grid(h=60, w=80):
    return Grid((h, w), (0, 0, w, h), (h, w))


def test_shapes_rasterise_where_they_are():
    g = grid()
    radial = rasterise(Layer(Radial((0.5, 0.375), (0.2, 0.2), feather=0.0)), g)
    assert radial[30, 40] == 1 and radial[0, 0] == 0
    outside = rasterise(Layer(Radial((0.5, 0.375), (0.2, 0.2), feather=0.0, inside=False)), g)
    assert torch.equal(outside, 1 - radial)
    ramp = rasterise(Layer(Linear((0.0, 0.0), (0.0, 0.75))), g)   # full at the top, none at the bottom
    assert ramp[0].min() > 0.99 and ramp[-1].max() < 0.01 and torch.all(ramp[1:] <= ramp[:-1])
    stroke = Stroke(((0.2, 0.3), (0.8, 0.3)), radius=0.1, feather=0.0)
    paint = rasterise(Layer(Brush((stroke,))), g)
    assert paint[24, 40] == 1 and paint[50, 40] == 0
    erased = rasterise(Layer(Brush((stroke, Stroke(((0.5, 0.3),), radius=0.05, feather=0.0, erase=True)))), g)
    assert erased[24, 40] == 0 and erased[24, 20] == 1
    half = rasterise(Layer(Brush((Stroke(stroke.points, 0.1, 0.0, flow=0.5),) * 2)), g)
    assert abs(float(half[24, 40]) - 0.75) < 1e-6               # two strokes of flow 0.5 build up


def test_masks_are_resolution_free():
    layer = Layer(Brush((Stroke(((0.2, 0.2), (0.6, 0.5)), radius=0.12),)))
    fine = rasterise(layer, Grid((300, 400), (0, 0, 400, 300), (300, 400)))
    coarse = rasterise(layer, Grid((300, 400), (0, 0, 400, 300), (75, 100)))
    down = torch.nn.functional.avg_pool2d(fine[None, None], 4)[0, 0]
    assert (down - coarse).abs().mean() < 0.01
    # a crop's grid shows the same mask as the whole photo's there
    crop = rasterise(layer, Grid((300, 400), (100, 50, 100, 100), (100, 100)))
    assert torch.allclose(crop, fine[50:150, 100:200], atol=1e-5)


def object_scene(h=160, w=200, seed=0):
    """A bright square (0.25 sRGB) on a dark, noisy background (0.02)."""
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 0.02, np.float32)
    img[h // 2 - 40:h // 2 + 40, w // 2 - 40:w // 2 + 40] = 0.25
    return np.clip(img + rng.normal(0, 0.003, img.shape).astype(np.float32), 0, 1)


@pytest.fixture(scope="module")
def enhancer(fixture_model):
    return Enhancer(fixture_model, device="cpu")


def test_an_edge_aware_brush_stays_on_its_object(enhancer):
    img = object_scene()
    h, w = img.shape[:2]
    L = max(h, w)
    # a brush on the square that reaches 25 px past its right edge
    dab = Stroke(((w / 2 / L, h / 2 / L), (w / 2 / L + 1e-3, h / 2 / L)), radius=65 / L, feather=0.3)
    s = enhancer.prepare(img, t_range=(0.0, 3.0))
    plain = s.render(1.5, Finish(denoise=0)).mean(-1)
    row = h // 2
    edge = w // 2 + 40                                  # first background column
    for edges in (False, True):
        layer = Layer(Brush((dab,)), amount=1.5, edges=edges)
        change = s.render(1.5, Finish(denoise=0, local=(layer,))).mean(-1) - plain
        inside, outside = change[row, w // 2], change[row, edge + 8]
        assert inside > 0.02
        if edges:
            assert abs(outside) < 0.1 * inside
        else:
            assert outside > 0.1 * inside                 # the plain brush does reach the background


def test_fast_and_exact_paths_agree_with_layers(enhancer):
    img = object_scene(48, 64)                  # smaller than the proxy: the fast path is the exact solve
    local = (Layer(Brush((Stroke(((0.5, 0.3), (0.6, 0.35)), radius=0.2),)), amount=1.0, edges=True),
             Layer(Radial((0.2, 0.2), (0.3, 0.2)), amount=-0.7), Layer(Linear((0, 0), (0, 0.7)), amount=0.5))
    T = 1.3                                     # between grid times: Lambda interpolated in t on both paths
    fast = enhancer.enhance(img, T, Finish(denoise=0, local=local, protect=0.5))
    exact = enhancer.enhance(img, T, Finish(denoise=0, local=local, protect=0.5), mode="exact")
    assert np.abs(fast - exact).max() <= 5e-3
    assert np.abs(fast - enhancer.enhance(img, T, Finish(denoise=0, protect=0.5))).max() > 0.02


def test_layers_beyond_the_model_range_are_clamped(enhancer):
    img = object_scene(48, 64)
    up = (Layer(Radial((0.5, 0.375), (2.0, 2.0), feather=0.0), amount=3.0),) * 3     # T + 9 everywhere
    s = enhancer.prepare(img, t_range=(0.0, enhancer.t_max))
    top = s.render(enhancer.t_max, Finish(denoise=0))
    np.testing.assert_allclose(s.render(enhancer.t_max - 2, Finish(denoise=0, local=up)), top, atol=1e-5)


def test_session_cli_and_batch_give_the_same_pixels(enhancer, tmp_path, fixture_model_path, monkeypatch):
    monkeypatch.setenv("CLODE_DATA_DIR", str(tmp_path / "userdata"))
    img = object_scene(150, 210)
    photo = tmp_path / "in" / "night.png"
    photo.parent.mkdir()
    Image.fromarray((img * 255 + 0.5).astype(np.uint8)).save(photo)
    local = (Layer(Brush((Stroke(((0.5, 0.35), (0.55, 0.4)), radius=0.15),)), amount=1.2, edges=True),
             Layer(Radial((0.3, 0.3), (0.2, 0.15)), amount=-0.8), Layer(Linear((0, 0), (0, 0.5)), amount=-0.5))
    edit = Adjustments(T=2.0, denoise=0.7, colour_noise=0.5, protect=0.4, local=local)
    save_settings(photo, edit.to_dict())
    flags = ["--model", str(fixture_model_path), "--device", "cpu", "--denoise", "0.7", "--colour-noise", "0.5",
             "--protect", "0.4"]
    assert cli(["enhance", str(photo), "-o", str(tmp_path / "cli"), "--T", "2",
                "--mask", str(photo.parent / "night.png.clode.json"), *flags]) == 0
    assert cli(["batch", str(photo.parent), "-o", str(tmp_path / "batch"), "--format", "png", "--name", "{stem}",
                "--T", "sidecar", *flags]) == 0
    pixels = load_image(photo).pixels
    session = enhancer.prepare(pixels)                  # the editor's: the model's whole range
    editor = session.render(edit.T, edit.finish, dtype=np.uint8)
    cli_out, batch_out = (np.asarray(Image.open(tmp_path / d / "night.png")) for d in ("cli", "batch"))
    np.testing.assert_array_equal(cli_out, batch_out)
    np.testing.assert_array_equal(cli_out, editor)
    plain = session.render(edit.T, edit.replace(local=()).finish, dtype=np.uint8)
    assert np.abs(cli_out.astype(int) - plain).max() > 20          # the layers did something


def test_enhance_mask_refuses_a_file_that_is_no_sidecar(tmp_path, fixture_model_path, capsys):
    bad = tmp_path / "mask.json"
    bad.write_text("not json")
    photo = tmp_path / "p.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(photo)
    assert cli(["enhance", str(photo), "-o", str(tmp_path / "out"), "--mask", str(bad),
                "--model", str(fixture_model_path)]) != 0
    err = capsys.readouterr().err
    assert "not a readable CLODE sidecar" in err and "Traceback" not in err


def test_layers_as_json_are_small():
    stroke = Stroke(tuple((i / 100, 0.5) for i in range(100)), radius=0.05)
    assert len(json.dumps(layers_to_json((Layer(Brush((stroke,))),)))) < 4000


def test_the_time_span_covers_protected_highlights_that_a_layer_darkens():
    from clode.base.local_exposure import time_span
    darken = (Layer(Linear((0, 0), (0, 1)), amount=-1.0), Layer(Radial((0.5, 0.5), (0.1, 0.1)), amount=0.5))
    assert time_span(2.0, darken) == (1.0, 2.5)
    assert time_span(2.0, darken, protect=1.0) == (-1.0, 2.5)      # a lamp at t = 0, then darkened
    assert time_span(-1.0, darken, protect=1.0) == (-2.0, -0.5)    # darkening is not protected


@settings(max_examples=40, deadline=None)
@given(layers, st.integers(1, 40), st.integers(1, 40))
def test_any_layer_rasterises_to_a_mask_in_0_1(local, gh, gw):
    g = Grid((300, 400), (40, 30, 200, 150), (gh, gw))
    guide = torch.linspace(-8, -2, gh * gw).reshape(gh, gw)
    for layer in local:
        mask = rasterise(layer, g, guide, lambda x, y: torch.full_like(x, -5.0))
        assert mask.shape == (gh, gw) and torch.isfinite(mask).all() and mask.min() >= 0 and mask.max() <= 1


def test_hidden_and_zero_layers_leave_the_render_exactly_as_it_was(enhancer):
    img = object_scene(48, 64)
    s = enhancer.prepare(img, t_range=(0.0, 2.0))
    shape = Radial((0.5, 0.4), (0.3, 0.3))
    idle = (Layer(shape, amount=1.0, visible=False), Layer(shape, amount=0.0), Layer(Brush(()), amount=2.0))
    np.testing.assert_array_equal(s.render(1.5, Finish(denoise=0, local=idle)), s.render(1.5, Finish(denoise=0)))
