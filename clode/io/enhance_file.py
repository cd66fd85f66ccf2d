"""Enhance one photo to a file: the one recipe behind ``clode enhance``, ``clode batch`` and the app's
export (render at the photo's full size, convert to the file's bit depth, save with its metadata
and a record of how it was made)."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Optional, Union

import numpy as np

from clode.base.adjustments import Adjustments
from clode.base.errors import ClodeError
from clode.io.export import ExportOptions, pixel_dtype, save_image
from clode.io.imageio import Photo
from clode.base.progress import CancelToken, ProgressCallback, check

#: The part of the progress that rendering takes; writing the file takes the rest.
RENDER_SHARE = 0.9


@dataclass(frozen=True)
class Written:
    path: Path
    adjustments: Adjustments        # as rendered: T is the one chosen when Auto was asked for


def enhance_to_file(photo: Photo, target: Union[str, os.PathLike], adjustments: Adjustments, *,
                    enhancer=None, session=None, auto: bool = False, taste: bool = True, mode: str = "fast",
                    options: Optional[ExportOptions] = None, model: Optional[str] = None,
                    progress: Optional[ProgressCallback] = None,
                    cancel: Optional[CancelToken] = None, exclusive: bool = False,
                    alternatives: Iterable[Union[str, os.PathLike]] = ()) -> Written:
    """Render ``photo`` with ``adjustments`` and write it to ``target``.

    Either a ``clode.Enhancer`` (``mode`` "fast" or "exact") or an already prepared
    ``clode.engine.session.Session`` of this photo (the editor's) does the work. ``auto`` chooses T per
    photo (``adjustments.T`` is then ignored; ``taste``: with the photographer's learned taste,
    ``clode.engine.taste``). ``model`` names the model in the file's provenance
    (default: the enhancer's). ``exclusive`` and ``alternatives``: see ``clode.io.export.save_image``
    (the file is written under the first free name, ``Written.path``).
    """
    rendered = render_for_file(photo, target, adjustments, enhancer=enhancer, session=session, auto=auto,
                               taste=taste, mode=mode, options=options, progress=progress, cancel=cancel)
    if progress is not None:
        progress(RENDER_SHARE, "writing")
    if model is None:
        model = enhancer.model_name if enhancer is not None else "?"
    return rendered.write(model, exclusive=exclusive, alternatives=alternatives)


@dataclass
class Rendered:
    """A photo rendered for its file, not yet written: what a batch hands to its writer thread.
    It keeps the source's metadata, not its pixels."""
    pixels: np.ndarray
    source: Photo
    target: Path
    adjustments: Adjustments        # as rendered: T is the one chosen when Auto was asked for
    options: Optional[ExportOptions]

    def write(self, model: str, *, exclusive: bool = False,
              alternatives: Iterable[Union[str, os.PathLike]] = ()) -> Written:
        path = save_image(self.target, self.pixels, source=self.source, options=self.options,
                          provenance=self.adjustments.provenance(model), exclusive=exclusive,
                          alternatives=alternatives)
        return Written(path, self.adjustments)


def render_for_file(photo: Photo, target: Union[str, os.PathLike], adjustments: Adjustments, *,
                    enhancer=None, session=None, auto: bool = False, taste: bool = True, mode: str = "fast",
                    options: Optional[ExportOptions] = None, progress: Optional[ProgressCallback] = None,
                    cancel: Optional[CancelToken] = None) -> Rendered:
    """The first half of ``enhance_to_file``: the pixels for ``target`` in its file's bit depth
    (progress up to ``RENDER_SHARE``); raises ``Cancelled`` if cancelled, also right after."""
    if (enhancer is None) == (session is None):
        raise ClodeError("enhance_to_file needs an enhancer or a prepared session (one of them)")
    target = Path(target)
    dtype = pixel_dtype(target, options)

    def step(fraction: float, message: str) -> None:
        if progress is not None:
            progress(RENDER_SHARE * fraction, message)

    finish = adjustments.finish
    if session is not None:
        T = float(session.auto_T(taste)) if auto else adjustments.T
        pixels = session.render(T, finish, dtype=dtype, cancel=cancel, progress=step)
    elif auto:
        pixels, T = enhancer.enhance_auto(photo.pixels, finish, mode=mode, dtype=dtype, progress=step, cancel=cancel,
                                          taste=taste)
    else:
        T = adjustments.T
        pixels = enhancer.enhance(photo.pixels, T, finish, mode=mode, dtype=dtype, progress=step, cancel=cancel)
    check(cancel)
    # The source's pixels are not needed for the write: a batch keeps fewer photos in memory.
    source = replace(photo, pixels=np.empty((0, 0, 3), np.float32))
    return Rendered(pixels, source, target, adjustments.replace(T=float(T)), options)
