"""Near-black stays neutral as it rises (``clode.engine.near_black``, issue 28.5): the colour of pixels at the
input's noise floor fades toward gray as they are lifted; the luma, the pixels that are not lifted and
the pixels with real colour stay exactly as rendered; the fast and exact paths apply the same rule;
the product's finish has it on while the engine's raw outputs do not."""

import inspect
from dataclasses import replace

import numpy as np
import pytest
import torch

from clode import Enhancer, load_model
from clode.base.adjustments import Adjustments
from clode.base.finish import Finish
from clode.training.metrics import srgb_to_lab
from clode.engine.near_black import (CHROMA_AVERAGING, NOISE_FLOOR, NOISE_SNR, SIGNAL_SNR, fade_near_black, input_noise,
                              signal_weight)
from clode.engine.noise_level import sample_regions
from clode.base.pixels import image_tensor
from clode.engine.session import prepare

LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def dark_sky(h=48, w=64, seed=0):
    """A black sky with a yellow JPEG-like cast, RGB (0.9, 0.9, 0.2) of 255 plus noise, over a
    dim but clearly coloured red roof (its colour is signal) and a bright lamp."""
    rng = np.random.default_rng(seed)
    sky = np.clip(np.rint(np.array([0.9, 0.9, 0.2]) + rng.normal(0, 0.7, (h, w, 3))), 0, 255)
    img = sky.copy()
    img[h // 2:] = [60, 20, 12]
    img[4:10, 4:10] = [240, 200, 120]
    return (img / 255).astype(np.float32)


def chroma(img):
    lab = srgb_to_lab(img)
    return np.hypot(lab[..., 1], lab[..., 2])


def measured_noise(img):
    return input_noise(lambda r: image_tensor(img[r[1]:r[1] + r[3], r[0]:r[0] + r[2]]), *img.shape[:2])


def test_signal_weight_is_a_smooth_step_in_the_signal_over_the_noise():
    noise = 2.0
    levels = torch.linspace(0, 40, 401)
    w = signal_weight(levels / 255, noise)
    assert torch.all(w[levels <= NOISE_SNR * noise] == 0)
    assert torch.all(w[levels >= SIGNAL_SNR * noise] == 1)
    assert torch.all(w[1:] >= w[:-1])


def test_a_lifted_noise_floor_pixel_loses_its_colour_and_keeps_its_luma():
    rows = torch.tensor([[[0.05, 0.055, 0.007], [0.5, 0.2, 0.1]]])       # olive sky, lit red wall
    brightest_in = torch.tensor([[[0.9 / 255], [120 / 255]]])
    out = fade_near_black(rows.clone(), brightest_in, 1.0)
    luma = lambda t: (t * torch.from_numpy(LUMA)).sum(-1)
    torch.testing.assert_close(luma(out), luma(rows))
    spread = lambda t: float(t.amax(-1).sub(t.amin(-1))[0, 0])
    # the sky keeps at most its input's share of the colour: (0.9 levels / 14 levels) of it
    assert spread(out) <= spread(rows) * 0.9 / (0.055 * 255) + 1e-6
    assert torch.equal(out[0, 1], rows[0, 1])          # 120 levels: signal, kept exactly


def test_a_pixel_that_is_not_lifted_keeps_its_colour():
    rows = torch.tensor([[[2 / 255, 1 / 255, 0.0]]])
    assert torch.equal(fade_near_black(rows.clone(), rows.amax(-1, keepdim=True), 1.0), rows)


def test_input_noise_reads_the_noise_the_colour_keeps_and_never_less_than_the_floor():
    rng = np.random.default_rng(1)
    flat = np.full((200, 200, 3), 0.5, np.float32)
    assert measured_noise(flat) == NOISE_FLOOR
    noisy = np.clip(flat + rng.normal(0, 3 / 255, flat.shape), 0, 1).astype(np.float32)
    assert measured_noise(noisy) == NOISE_FLOOR          # 3 levels: under one once the chroma is blurred
    noisier = np.clip(flat + rng.normal(0, 8 / 255, flat.shape), 0, 1).astype(np.float32)
    assert 7.0 / CHROMA_AVERAGING < measured_noise(noisier) < 9.0 / CHROMA_AVERAGING
    assert len(sample_regions(200, 200)) == 9


def test_the_product_finish_has_it_on_and_the_engine_default_leaves_it_off(fixture_model):
    assert Adjustments().finish.near_black is True
    session = prepare(fixture_model, dark_sky(), t_min=0.0, t_max=3.0)
    plain = session.render(3.0)
    assert np.array_equal(plain, session.render(3.0, Finish(near_black=False)))
    assert not np.array_equal(plain, session.render(3.0, Finish(near_black=True)))
    assert Finish().near_black is False
    defaults = {name: inspect.signature(f).parameters["finish"].default
                for name, f in (("render", type(session).render), ("enhance", Enhancer.enhance),
                                ("enhance_auto", Enhancer.enhance_auto), ("trajectory", Enhancer.trajectory))}
    assert defaults == {"render": Finish(), "enhance": None, "enhance_auto": Finish(), "trajectory": Finish()}


@pytest.fixture(scope="module")
def shipped_model():
    net = load_model()
    assert net.curve_mode == "rgb_ratio"
    return net


@pytest.fixture(params=["per_channel", "rgb_ratio"])
def model(request, fixture_model, shipped_model):
    """The fixture's official network, and the shipped one (the RGB-ratio curve, whose views keep
    the input's brightest channel)."""
    return fixture_model if request.param == "per_channel" else shipped_model


# The exact path with the fixture's network only: the shipped one's dopri5 solve at 1e-5 is slow on a CPU.
@pytest.mark.parametrize("curve,mode", [("per_channel", "fast"), ("per_channel", "exact"), ("rgb_ratio", "fast")])
def test_both_paths_apply_the_same_rule_after_the_rest_of_the_finish(fixture_model, shipped_model, curve, mode):
    """On = the same render off, then ``fade_near_black`` with the input's brightest channel and noise."""
    img = dark_sky()
    enh = Enhancer(fixture_model if curve == "per_channel" else shipped_model, device="cpu")
    finish = Finish(denoise=1.0, colour_noise=0.5, neutral=True)
    off = enh.enhance(img, 3.0, finish, mode=mode)
    on = enh.enhance(img, 3.0, replace(finish, near_black=True), mode=mode)
    expect = fade_near_black(torch.from_numpy(off.copy()), torch.from_numpy(img.max(-1, keepdims=True)),
                             measured_noise(img)).numpy()
    np.testing.assert_allclose(on, expect, atol=2e-6)
    sky, roof = img.max(-1) <= 4 / 255, slice(24, None)
    assert chroma(on)[sky].mean() < 0.5 * chroma(off)[sky].mean()
    assert chroma(on)[sky].mean() <= 3
    np.testing.assert_array_equal(on[roof], off[roof])
    np.testing.assert_allclose(on @ LUMA, off @ LUMA, atol=2e-6)


def test_a_view_on_the_dial_fades_like_the_export(model):
    """A view rendered smaller than the photo reads the input's brightest channel from its resized
    input: its near-black is as neutral as the full render's."""
    img = dark_sky(96, 128)
    session = prepare(model, img, t_min=0.0, t_max=3.0)
    view_off = session.render(3.0, Finish(colour_noise=0.5), size=(48, 64))
    view_on = session.render(3.0, Finish(colour_noise=0.5, near_black=True), size=(48, 64), dtype=np.uint8)
    full_on = session.render(3.0, Finish(colour_noise=0.5, near_black=True))
    sky = slice(12, 22)
    assert chroma(view_on[sky]).mean() < 0.5 * chroma(view_off[sky]).mean()
    assert abs(chroma(view_on[sky]).mean() - chroma(full_on[24:44]).mean()) < 1.0
    np.testing.assert_allclose(view_on[30:] / 255, view_off[30:], atol=0.5 / 255 + 1e-6)
