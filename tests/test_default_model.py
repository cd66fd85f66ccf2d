"""The shipped default model: loads with its card, and T works as an exposure dial in both directions."""

import numpy as np
import pytest

from conftest import DATASETS

from clode import Enhancer, Solver, load_model
from clode.base.finish import Finish
from clode.io.imageio import load_image, resize


@pytest.fixture(scope="module")
def model():
    return load_model()


@pytest.fixture(scope="module")
def dark_photo():
    img = load_image(DATASETS / "lowlight-dev" / "low" / "00.png").pixels
    return resize(img, (24, 36))


def test_default_model_carries_its_card(model):
    card = model.info.card
    assert model.info.darken == "mirror" and model.info.default_T == card["T"] == 3.0
    assert card["steps"] > 0 and card["images"] == 56 and card["validation"]["psnr"] >= 16.0
    # issue 13: colour-faithful by construction, noise treatment that follows the photo's noise
    assert model.info.curve == "rgb_ratio" and model.adaptive_denoise


def test_T_is_a_monotonic_exposure_dial(model, dark_photo):
    Ts = [-3.0, -1.0, 0.0, 1.0, 3.0, 5.0]
    outs = Enhancer(model, device="cpu", solver=Solver("dopri5", rtol=1e-4, atol=1e-4)).trajectory(
        dark_photo, Ts, Finish(denoise=0.0))
    means = [float(o.mean()) for o in outs]
    assert all(a < b for a, b in zip(means, means[1:])), means
    assert means[0] < dark_photo.mean() < means[-1]


def test_fast_and_exact_agree_on_negative_T(model, dark_photo):
    enh = Enhancer(model, device="cpu", solver=Solver("dopri5", rtol=1e-4, atol=1e-4))
    session = enh.prepare(dark_photo, proxy_side=max(dark_photo.shape[:2]))
    for T in (-2.0, 2.0):
        fast = session.render(T, Finish(denoise=0.0))
        (exact,) = enh.trajectory(dark_photo, [T], Finish(denoise=0.0))
        assert np.abs(fast - exact).max() < 0.02, T


def test_T_zero_returns_the_photo(model, dark_photo):
    out = Enhancer(model, device="cpu").enhance(dark_photo, 0.0, Finish(denoise=0.0))
    assert np.abs(out - dark_photo).max() < 1e-5
