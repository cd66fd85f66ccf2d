"""--solver specs are bounded where they are read (issue 29): a tolerance or step the solver cannot
use is one clear error before any photo, and every accepted spec solves."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clode.engine.enhancer import Enhancer
from clode.base.errors import ClodeError
from clode.engine.ode import ADAPTIVE_METHODS, FIXED_STEP_METHODS, STEP_RANGE, TOLERANCE_RANGE, Solver

METHODS = sorted(FIXED_STEP_METHODS | ADAPTIVE_METHODS)


@pytest.mark.parametrize("spec", ["dopri5:1e-300", "dopri5:1e308", "rk4:1e308", "rk4:1e-300", "euler:0.001",
                                  "dopri5:5e-324", "bosh3:10", "adaptive_heun:1e-8", "rk4:nan", "rk4:inf",
                                  "dopri5:-1e-5", "dopri5:0", "rk4:x", "rk4:" + "9" * 400])
def test_unusable_solver_specs_are_refused(spec):
    with pytest.raises(ClodeError) as e:
        Solver.parse(spec)
    assert "\n" not in str(e.value) and len(str(e.value)) < 300


def test_the_ranges_edges_are_accepted():
    assert Solver.parse(f"dopri5:{TOLERANCE_RANGE[0]:g}").rtol == TOLERANCE_RANGE[0]
    assert Solver.parse(f"rk4:{STEP_RANGE[1]:g}").step_size == STEP_RANGE[1]
    assert Solver.parse("dopri5") == Solver()


def test_cli_refuses_before_any_photo(tmp_path, capfd, fixture_model_path):
    from PIL import Image

    from clode.commands.cli import main
    photo = tmp_path / "a.png"
    Image.fromarray(np.full((6, 6, 3), 30, np.uint8)).save(photo)
    before = photo.read_bytes()
    for spec in ("dopri5:1e-300", "dopri5:1e308", "rk4:1e308"):
        code = main(["enhance", str(photo), "-o", str(tmp_path / "out"), "--model", str(fixture_model_path),
                     "--device", "cpu", "--solver", spec])
        err = capfd.readouterr().err
        assert code != 0 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert spec in err
    assert not (tmp_path / "out").exists()
    assert photo.read_bytes() == before


@pytest.fixture(scope="module")
def tiny_image():
    return (np.random.default_rng(0).random((4, 4, 3)) * 0.2).astype(np.float32)


def _spec_strategy():
    number = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(min_value=1e-9, max_value=50.0),   # near and inside the ranges
        st.integers(min_value=-10, max_value=10 ** 30),
    ).map(lambda v: repr(v))
    argument = st.one_of(number, st.text(max_size=12))
    method = st.one_of(st.sampled_from(METHODS), st.sampled_from([m.upper() for m in METHODS]), st.text(max_size=8))
    return st.one_of(
        st.text(max_size=30),
        st.tuples(method, argument).map(lambda p: f"{p[0]}:{p[1]}"),
        method,
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=_spec_strategy())
def test_any_spec_is_refused_cleanly_or_solves(spec, fixture_model, tiny_image):
    try:
        solver = Solver.parse(spec)
    except ClodeError as e:
        assert "\n" not in str(e) and len(str(e)) < 300
        return
    out = Enhancer(fixture_model, device="cpu", solver=solver).enhance(tiny_image, T=0.25, mode="exact")
    assert out.shape == tiny_image.shape and np.isfinite(out).all()
