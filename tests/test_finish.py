"""The engine takes the edit whole: an end time and one ``Finish`` (or a whole ``Adjustments``)."""

from dataclasses import fields

import numpy as np
import pytest

from clode import ClodeError, Enhancer
from clode.base.adjustments import NEAR_BLACK, Adjustments
from clode.base.finish import Finish
from clode.base.local_exposure import Layer, Radial


def night(h: int = 24, w: int = 32) -> np.ndarray:
    rng = np.random.default_rng(5)
    img = np.full((h, w, 3), 0.04, np.float32) + rng.normal(0, 0.01, (h, w, 3)).astype(np.float32)
    img[4:9, 20:26] = 0.9                                   # a lamp, for protection to act on
    return np.clip(img, 0, 1)


LAYER = Layer(Radial((0.3, 0.4), (0.2, 0.2)), amount=1.0)


def test_every_finishing_field_is_a_setting_and_the_edit_passes_it_on():
    """Adding a setting is a field in ``Adjustments`` and its ``Finish`` field: the edit hands each
    one to the engine (near-black is the product's fixed rule, not a setting)."""
    names = [f.name for f in fields(Finish)]
    assert set(names) - {"near_black"} <= set(Adjustments.names())
    changed = Adjustments(denoise=0.3, colour_noise=0.7, neutral=True, protect=0.4, local=(LAYER,))
    assert changed.finish == Finish(denoise=0.3, colour_noise=0.7, neutral=True, protect=0.4, local=(LAYER,),
                                    near_black=NEAR_BLACK)
    for name in set(names) - {"near_black"}:
        assert getattr(changed.finish, name) == getattr(changed, name) != getattr(Finish(), name), name


def test_the_raw_finish_is_the_engines_old_default_and_a_list_of_layers_is_kept_as_a_tuple():
    assert Finish() == Finish(denoise=1.0, colour_noise=0.0, neutral=False, protect=0.0, local=(),
                              near_black=False)
    assert Finish(local=[LAYER]).local == (LAYER,)
    hash(Finish(local=[LAYER]))                             # a value: usable as a key
    assert Finish(denoise=0.5, colour_noise=0.4).noise_scaled(0.5) == Finish(denoise=0.25, colour_noise=0.2)


def test_enhance_takes_a_whole_edit_as_it_takes_T_and_its_finish(fixture_model):
    enh, img = Enhancer(fixture_model, device="cpu"), night()
    edit = Adjustments(T=2.0, protect=0.5, colour_noise=0.5, local=(LAYER,))
    whole = enh.enhance(img, edit)
    np.testing.assert_array_equal(whole, enh.enhance(img, edit.T, edit.finish))
    assert not np.array_equal(whole, enh.enhance(img, edit.T))          # the raw finish differs
    with pytest.raises(ClodeError, match="not both"):
        enh.enhance(img, edit, Finish())


def test_a_trajectory_refuses_what_needs_an_end_time_per_pixel(fixture_model):
    enh, img = Enhancer(fixture_model, device="cpu"), night(8, 8)
    with pytest.raises(ClodeError, match="one end time"):
        enh.trajectory(img, [1.0], Finish(protect=0.5))
    with pytest.raises(ClodeError, match="one end time"):
        enh.trajectory(img, [1.0], Finish(local=(LAYER,)))
    # protection acts only when T brightens: a darkening trajectory with it is the one without
    np.testing.assert_array_equal(enh.trajectory(img, [-1.0], Finish(protect=0.5))[0],
                                  enh.trajectory(img, [-1.0])[0])
