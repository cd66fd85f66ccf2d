"""LOL-protocol PSNR and MATLAB-style SSIM."""

import math

import numpy as np
import pytest

from clode.base.errors import ClodeError
from clode.training.metrics import C1, C2, gaussian_window, psnr, quantize, ssim


def reference_ssim(a, b):
    """Direct transcription of ssim_index.m: a 2-D window at every valid position, per channel."""
    a = np.round(np.clip(a.astype(np.float64), 0, 1) * 255)[5:-5, 5:-5]
    b = np.round(np.clip(b.astype(np.float64), 0, 1) * 255)[5:-5, 5:-5]
    x = np.arange(11) - 5
    w = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * 1.5 ** 2))
    w /= w.sum()
    per_channel = []
    for c in range(a.shape[2]):
        values = []
        for i in range(a.shape[0] - 10):
            for j in range(a.shape[1] - 10):
                pa, pb = a[i:i + 11, j:j + 11, c], b[i:i + 11, j:j + 11, c]
                ma, mb = (w * pa).sum(), (w * pb).sum()
                va = (w * pa * pa).sum() - ma * ma
                vb = (w * pb * pb).sum() - mb * mb
                cov = (w * pa * pb).sum() - ma * mb
                values.append((2 * ma * mb + C1) * (2 * cov + C2) / ((ma * ma + mb * mb + C1) * (va + vb + C2)))
        per_channel.append(np.mean(values))
    return float(np.mean(per_channel))


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(7)
    a = rng.random((31, 27, 3), dtype=np.float32)
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1).astype(np.float32)
    return a, b


def test_identical_images(pair):
    a, _ = pair
    assert psnr(a, a) == math.inf
    assert ssim(a, a) == 1.0


def test_psnr_hand_computed():
    a = np.zeros((4, 5, 3), np.float32)
    b = a.copy()
    b[0, 0, 0] = 10 / 255              # one value off by 10 levels: MSE = 100 / 60
    assert psnr(a, b) == pytest.approx(10 * math.log10(255 ** 2 * 60 / 100), abs=1e-9)


def test_psnr_quantises_to_8_bit():
    a = np.full((4, 4, 3), 0.5, np.float32)
    # 0.5 * 255 = 127.5 -> 128; 0.501 * 255 = 127.8 -> 128: the same 8-bit image.
    assert psnr(a, a + 0.001) == math.inf
    assert quantize(np.array([-0.2, 1.7])).tolist() == [0.0, 255.0]


def test_uint8_and_float_inputs_agree(pair):
    a, b = pair
    assert psnr(a, b) == psnr(quantize(a).astype(np.uint8), quantize(b).astype(np.uint8))


def test_ssim_of_constant_images_is_the_luminance_term():
    a = np.full((21, 21, 3), 100 / 255)
    b = np.full((21, 21, 3), 150 / 255)
    expected = (2 * 100 * 150 + C1) / (100 ** 2 + 150 ** 2 + C1)
    assert ssim(a, b) == pytest.approx(expected, rel=1e-12)


def test_gaussian_window_is_matlab_fspecial():
    g = gaussian_window()
    w = np.outer(g, g)
    assert w.shape == (11, 11) and w.sum() == pytest.approx(1.0)
    assert w[5, 5] / w[5, 6] == pytest.approx(math.exp(1 / (2 * 1.5 ** 2)))


def test_ssim_matches_direct_implementation(pair):
    a, b = pair
    expected = reference_ssim(a, b)
    assert 0.2 < expected < 0.99
    assert ssim(a, b) == pytest.approx(expected, abs=1e-10)


def test_ssim_decreases_with_noise(pair):
    a, _ = pair
    rng = np.random.default_rng(1)
    scores = [ssim(a, np.clip(a + rng.normal(0, s, a.shape), 0, 1)) for s in (0.02, 0.1, 0.3)]
    assert scores[0] > scores[1] > scores[2]


def test_bad_sizes_are_clode_errors(pair):
    a, b = pair
    with pytest.raises(ClodeError, match="differ in size"):
        psnr(a, b[:-1])
    with pytest.raises(ClodeError, match="too small"):
        ssim(a[:20], b[:20])
