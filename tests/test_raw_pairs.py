"""Real-capture-like pairs (``clode.training.raw_pairs``, issue 28.4): the short exposure made in the sensor's
linear data has the noise statistics of a sensor (variance = signal / gain + read^2), keeps the black
pedestal and the bit depth, and both frames develop through the app's RAW path."""

import numpy as np
import pytest

pytest.importorskip("pidng")

from clode.io.imageio import load_image  # noqa: E402
from clode.training.raw_pairs import Sensor, electrons_at_white, expose, long_exposure, short_exposure  # noqa: E402
from dng import cfa_dng_bytes, linear_to_srgb, srgb_to_linear  # noqa: E402


@pytest.mark.parametrize("signal,gain,read", [(40.0, 0.5, 3.0), (400.0, 0.5, 3.0), (2000.0, 0.1, 20.0),
                                              (300.0, 4.0, 1.0)])
def test_variance_is_signal_over_gain_plus_read_squared(signal, gain, read):
    rng = np.random.default_rng(0)
    frame = expose(np.full(200_000, signal), gain, read, black=512, white=16383, rng=rng).astype(np.float64)
    assert abs(frame.mean() - (512 + signal)) < 0.02 * signal + 0.1
    expected = signal / gain + read ** 2 + 1 / 12        # + the rounding to whole DN
    assert abs(frame.var() / expected - 1) < 0.03


def test_the_black_pedestal_holds_the_noise_below_it():
    rng = np.random.default_rng(1)
    dark = expose(np.zeros(100_000), 1.0, 4.0, black=512, white=16383, rng=rng)
    assert abs(dark.mean() - 512) < 0.1 and dark.min() < 512 - 8      # noise reaches below black
    exact = expose(np.zeros(100), 1.0, 0.0, black=64, white=4095, rng=rng)
    assert np.all(exact == 64)
    # a pedestal smaller than the noise: values are clipped at 0 DN, never negative or wrapped
    low = expose(np.zeros(100_000), 1.0, 20.0, black=8, white=4095, rng=rng)
    assert low.min() == 0 and low.max() < 200


@pytest.mark.parametrize("bits", [12, 14])
def test_the_bit_depth_holds_integer_levels_clipped_at_white(bits):
    sensor = Sensor(bits=bits, black=256)
    rng = np.random.default_rng(2)
    scene = np.linspace(0, 1, 64 * 64 * 3).reshape(64, 64, 3)
    long = long_exposure(scene, sensor)
    assert long.dtype == np.uint16 and long.max() == sensor.white == (1 << bits) - 1 and long.min() == 256
    over = expose(np.full(1000, 2.0 * sensor.white), 1.0, 5.0, sensor.black, sensor.white, rng)
    assert np.all(over == sensor.white)
    short = short_exposure(long, 3.0, 1600, sensor, rng)
    assert short.dtype == np.uint16 and short.max() <= sensor.white


def test_the_short_frame_has_the_long_ones_signal_less_ev_stops():
    sensor = Sensor()
    rng = np.random.default_rng(3)
    long = long_exposure(np.full((200, 200, 3), 0.4), sensor)
    short = short_exposure(long, 4.5, 800, sensor, rng).astype(np.float64)
    ratio = (short.mean() - sensor.black) / (long.mean() - sensor.black)
    assert abs(ratio / 2 ** -4.5 - 1) < 0.01
    var = short.var()
    signal = (long.mean() - sensor.black) * 2 ** -4.5
    assert abs(var / (signal / sensor.gain(800) + sensor.read_dn(800) ** 2 + 1 / 12) - 1) < 0.05


def test_iso_sets_the_gain_and_the_read_noise():
    sensor = Sensor()
    assert sensor.gain(200) == pytest.approx(sensor.gain(100) / 2)
    assert sensor.gain(100) * (sensor.white - sensor.black) == pytest.approx(sensor.full_well)
    assert sensor.read_dn(3200) > sensor.read_dn(400) >= sensor.read_dn_floor
    assert electrons_at_white(3.0, 1600) == pytest.approx(sensor.full_well / 16 / 8)


def test_both_frames_develop_through_the_apps_raw_path(tmp_path):
    """Long: the scene back, to the demosaicing limit. Short (EV 3): 1/8 of the light in linear
    terms, noisier; both through ``load_image`` on DNGs with the same tags."""
    sensor = Sensor()
    h, w = 64, 96
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    srgb = np.stack([0.2 + 0.6 * xx, 0.3 + 0.4 * yy, 0.6 - 0.3 * xx], -1)
    scene = srgb_to_linear(srgb)
    long = long_exposure(scene, sensor)
    short = short_exposure(long, 3.0, 800, sensor, np.random.default_rng(4))
    paths = {}
    for name, cfa in (("long", long), ("short", short)):
        paths[name] = tmp_path / f"{name}.dng"
        paths[name].write_bytes(cfa_dng_bytes(cfa, bits=16, black=sensor.black, white=sensor.white))
    dev_long, dev_short = (load_image(paths[n]) for n in ("long", "short"))
    assert dev_long.is_raw and dev_long.pixels.shape == (h, w, 3)
    inner = (slice(4, -4), slice(4, -4))
    err = dev_long.pixels[inner] - linear_to_srgb(scene)[inner]
    assert 10 * np.log10(1 / np.mean(err ** 2)) > 35
    lin_long, lin_short = (srgb_to_linear(d.pixels[inner].astype(np.float64)).mean() for d in (dev_long, dev_short))
    assert abs(lin_short / lin_long / 2 ** -3 - 1) < 0.03
    noise = lambda a: np.std(a[1:] - a[:-1]) / np.sqrt(2)
    assert noise(dev_short.pixels[inner]) > 3 * noise(dev_long.pixels[inner])
