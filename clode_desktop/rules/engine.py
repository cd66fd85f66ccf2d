"""What the worker thread owns: the model, the open photo and its prepared session.

Qt-free on purpose: every method runs inside one worker job (see ``worker.py``),
so nothing here is touched by two threads, and it is testable without a GUI.
The UI only ever receives plain values (``ModelState``, ``Opened``, ``Rendered``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy as np

from clode import Enhancer, load_model
from clode.base.adjustments import Adjustments
from clode.engine.auto_exposure import Reading
from clode.engine.taste import auto_choice
from clode.engine.devices import devices, resolve_device
from clode.io.enhance_file import enhance_to_file
from clode.base.errors import ClodeError
from clode.io.imageio import Photo, load_image, load_preview
from clode.base.pixels import fit_size, resize, to_uint8
from clode.base.progress import CancelToken, ProgressCallback, check
from clode.engine.taste import model_key
from clode.engine.weights import DEFAULT_MODEL

# Long side of the images the view shows (original and result). Bigger photos are shown
# downscaled; export always renders the full resolution. The CPU gets a smaller view so the
# denoiser keeps up with the dial.
VIEW_SIDE = {"cpu": 1400}
VIEW_SIDE_DEFAULT = 2560
# While the dial moves, drafts are rendered at most this big, then the full view follows.
DRAFT_SIDE = 640
# The CPU solves on a smaller proxy than the fast engine's default (a quarter of the work),
# after the fast engine's quick pass.
CPU_PROXY = 128
# Photos whose file is bigger than this show a quick preview first (RAW files always do).
PREVIEW_FILE_BYTES = 3_000_000


@dataclass
class ModelState:
    name: str
    path: Optional[Path]
    default_T: float
    t_max: float
    device: str            # torch's key: "cpu", "cuda:0"
    device_label: str      # a person's: "NVIDIA H100 (cuda:0)"
    official: bool = False
    note: str = ""         # e.g. why we fell back to the CPU

    def summary(self) -> str:
        """What the side panel says about the model: name, kind, range of T, device, any warning."""
        if self.official:
            kind = "official CLODE weights"
        elif self.path is not None and self.path == DEFAULT_MODEL:
            kind = "built-in"
        else:
            kind = "model file"
        return (f"{self.name} ({kind})\nDefault T = {self.default_T:g}, range ±{self.t_max:g}\n{self.device_label}"
                + (f"\n⚠ {self.note}" if self.note else ""))


@dataclass
class Opened:
    path: Path
    view: np.ndarray               # H x W x 3 uint8, the original as the view shows it
    full_size: tuple[int, int]     # (H, W) of the full-resolution photo
    is_preview: bool
    info: dict = field(default_factory=dict)   # camera, capture time, bit depth ... for the info panel
    prepared: bool = False         # the curves solved on the preview carry over to this decode


class _ShowsAdjustments:
    """A result that shows one edit: its T and denoise read from it."""
    adjustments: Adjustments

    @property
    def T(self) -> float:
        return self.adjustments.T

    @property
    def denoise(self) -> float:
        return self.adjustments.denoise


@dataclass
class Rendered(_ShowsAdjustments):
    path: Path
    adjustments: Adjustments       # what it shows
    image: np.ndarray              # H x W x 3 uint8
    histogram: np.ndarray          # 4 x 256 counts: R, G, B, luminance
    seconds: float
    draft: bool


@dataclass
class Detail(_ShowsAdjustments):
    path: Path
    region: tuple[int, int, int, int]   # x, y, w, h in photo pixels
    adjustments: Adjustments
    original: np.ndarray           # uint8, the region at the requested size
    result: np.ndarray
    seconds: float


def histogram(img8: np.ndarray, max_samples: int = 250_000) -> np.ndarray:
    """Counts of R, G, B and Rec.709 luminance over 256 bins (on a subsample of big images)."""
    step = max(1, int(np.sqrt(img8.shape[0] * img8.shape[1] / max_samples)))
    sample = img8[::step, ::step].reshape(-1, 3)
    out = np.empty((4, 256), np.int64)
    for c in range(3):
        out[c] = np.bincount(sample[:, c], minlength=256)
    luma = (sample @ np.array([0.2126, 0.7152, 0.0722])).round().astype(np.int64)
    out[3] = np.bincount(np.clip(luma, 0, 255), minlength=256)
    return out


def fit_side(size: tuple[int, int], side: int) -> tuple[int, int]:
    """(H, W) scaled down so the long side is at most ``side``."""
    return fit_size(size[0], size[1], side)


def photo_info(photo: Photo) -> dict:
    info = {"Size": f"{photo.full_size[1]} x {photo.full_size[0]}",
            "Type": "camera RAW" if photo.is_raw else f"{photo.bit_depth}-bit"}
    camera = " ".join(x for x in (photo.make, photo.model) if x)
    if camera:
        info["Camera"] = camera
    if photo.capture_time:
        info["Taken"] = photo.capture_time
    return info


class Engine:
    def __init__(self, proxy_side: Optional[int] = None, quick_proxy: Union[bool, int, None] = True,
                 view_side: Optional[int] = None) -> None:
        self.view_side = view_side        # long side of the view images (None = by device)
        self.proxy_side = proxy_side      # the fast engine's proxy (None = its default, or CPU_PROXY on the CPU)
        # A first, quick pass on the CPU: True = the fast engine's quick mode, a number = a pass on a
        # proxy that big, None = none.
        self.quick_proxy = quick_proxy
        self.enhancer: Optional[Enhancer] = None
        self.model_state: Optional[ModelState] = None
        self.photo: Optional[Photo] = None
        self.preview_photo: Optional[Photo] = None
        self.path: Optional[Path] = None       # the photo being shown (preview or full)
        self.session = None
        self.view_size: Optional[tuple[int, int]] = None

    # -- model ------------------------------------------------------------------------------
    def load_model(self, path: Optional[Path], device: str = "auto") -> ModelState:
        """Load a model (None = the shipped default) onto ``device``, falling back to the CPU."""
        note = ""
        try:
            torch_device = resolve_device(device)
        except ClodeError as e:
            torch_device = resolve_device("cpu")
            note = f"{e}; using the CPU"
        labels = {d.key: d.label for d in devices()}
        key = str(torch_device)
        if key == "cuda":
            key = "cuda:0"
        if torch_device.type == "cpu" and not note and len(labels) == 1:
            note = "no GPU found; running on the CPU (slower)"
        # Loaded before anything is replaced: a bad file leaves the current model working.
        model = load_model(path, device="cpu")
        enhancer = Enhancer(model, device=torch_device)
        self.enhancer = enhancer
        self.session = None
        info = model.info
        self.model_state = ModelState(
            name=info.name, path=info.path, default_T=info.default_T, t_max=info.t_max, device=key,
            official=info.official,
            device_label=labels.get(key, key), note=note)
        return self.model_state

    # -- photo ------------------------------------------------------------------------------
    def _view_side(self) -> int:
        if self.view_side:
            return self.view_side
        device = self.model_state.device.split(":")[0] if self.model_state else "cpu"
        return VIEW_SIDE.get(device, VIEW_SIDE_DEFAULT)

    def wants_preview(self, path: Path) -> bool:
        from clode.io.imageio import is_raw_path
        try:
            return is_raw_path(path) or path.stat().st_size > PREVIEW_FILE_BYTES
        except OSError:
            return False

    def preview(self, path: Path) -> Opened:
        """A quick, smaller decode to show (and prepare) while the full one loads."""
        photo = load_preview(path, max_side=self._view_side())    # a broken file leaves the open photo
        self.photo = None
        self.session = None
        self.preview_photo = photo
        self.path = Path(path)
        full = (int(photo.full_size[0]), int(photo.full_size[1]))
        self.view_size = fit_side(full, self._view_side())
        return Opened(Path(path), to_uint8(photo.pixels), full, True, photo_info(photo))

    def prepare_preview(self, adjustments: Adjustments, progress: Optional[ProgressCallback] = None,
                        cancel: Optional[CancelToken] = None) -> "Rendered":
        """Solve the curves on the preview and render it: a first result before the full decode.
        ``open`` then carries the solve over to the full decode (the same framing)."""
        enhancer, preview = self._need_model(), self.preview_photo
        if preview is None:
            raise ClodeError("no preview to prepare")
        session = enhancer.prepare(preview.pixels, progress=progress, cancel=cancel, **self.passes()[0])
        if self.preview_photo is preview:
            self.session = session
        return self.render(adjustments, cancel=cancel)

    def open(self, path: Path, cancel: Optional[CancelToken] = None, ahead: Optional[Photo] = None) -> Opened:
        """Decode ``path`` (or take ``ahead``, its decode made in advance) and make it the open photo.
        A file that cannot be read raises and leaves the photo that was open as it was."""
        path = Path(path)
        preview = self.preview_photo if self.preview_photo is not None and self.path == path else None
        photo = ahead if ahead is not None and Path(ahead.path) == path else load_image(path)
        check(cancel)
        self.preview_photo = None
        if preview is None:
            self.session = None
        self.path = path
        self.photo = photo
        self.view_size = fit_side(photo.pixels.shape[:2], self._view_side())
        view = photo.pixels
        if self.view_size != photo.pixels.shape[:2]:
            view = resize(photo.pixels, self.view_size)
        prepared = False
        if preview is not None and self.session is not None:
            try:
                self.session = self.session.with_image(photo.pixels)
                prepared = True
            except ClodeError:                 # the preview was framed differently (a RAW's thumbnail)
                self.session = None
        return Opened(path, to_uint8(view), tuple(photo.pixels.shape[:2]), False, photo_info(photo),
                      prepared=prepared)

    def close_photo(self) -> None:
        self.photo = self.preview_photo = None
        self.session = None

    def _need_model(self) -> Enhancer:
        if self.enhancer is None:
            raise ClodeError("no model is loaded (choose one in Preferences)")
        return self.enhancer

    def _need_photo(self) -> Photo:
        if self.photo is None:
            raise ClodeError("no photo is open")
        return self.photo

    def passes(self) -> list[dict]:
        """The preparations to run, in order, as ``Enhancer.prepare`` options.

        On the CPU a full proxy solve takes long: the fast engine's quick, coarse solve comes first
        so a result shows within seconds, and the dial stays live while the full one refines it."""
        on_cpu = self.model_state is None or self.model_state.device == "cpu"
        main = self.proxy_side or (CPU_PROXY if on_cpu else None)
        full = {"proxy_side": main} if main else {}
        if not on_cpu or not self.quick_proxy:
            return [full]
        if self.quick_proxy is True:
            return [{"quick": True}, full]
        if main is None or main > self.quick_proxy:
            return [{"proxy_side": self.quick_proxy}, full]
        return [full]

    def prepare(self, options: Optional[dict] = None, progress: Optional[ProgressCallback] = None,
                cancel: Optional[CancelToken] = None) -> None:
        """Solve the curves for the open photo; renders use the previous session until this one is done."""
        enhancer, photo = self._need_model(), self._need_photo()
        session = enhancer.prepare(photo.pixels, progress=progress, cancel=cancel, **(options or {}))
        if self.photo is photo:
            self.session = session

    def _need_session(self):
        if self.session is None:
            self.prepare(self.passes()[-1])
        return self.session

    # -- results ----------------------------------------------------------------------------
    def render(self, adjustments: Adjustments, draft: bool = False,
               cancel: Optional[CancelToken] = None) -> Rendered:
        session = self._need_session()
        size, path = self.view_size, self.path
        if size is None or path is None:
            raise ClodeError("no photo is open")
        if draft:
            size = fit_side(size, DRAFT_SIDE)
        start = time.perf_counter()
        out = session.render(adjustments.T, adjustments.finish, size=size, cancel=cancel)
        img8 = to_uint8(out)
        seconds = time.perf_counter() - start
        return Rendered(path, adjustments, img8, histogram(img8), seconds, draft)

    def render_detail(self, adjustments: Adjustments, region: tuple[int, int, int, int],
                      size: tuple[int, int], cancel: Optional[CancelToken] = None) -> "Detail":
        """Original and result of ``region`` (x, y, w, h in photo pixels) at ``size`` (H, W): what a
        zoomed-in view shows sharper than the view images."""
        session, photo = self._need_session(), self._need_photo()
        x, y, w, h = region
        start = time.perf_counter()
        out = session.render(adjustments.T, adjustments.finish, size=size, region=region, cancel=cancel)
        crop = photo.pixels[y:y + h, x:x + w]
        if tuple(size) != (h, w):
            crop = resize(np.ascontiguousarray(crop), size)
        return Detail(photo.path, (x, y, w, h), adjustments, to_uint8(crop), to_uint8(out),
                      time.perf_counter() - start)

    def auto_T(self) -> float:
        return float(self._need_session().auto_T())

    def auto_choice(self) -> tuple[Reading, float]:
        """Auto's reading of the open photo and its T with the learned taste (``clode.engine.auto_exposure``)."""
        session = self._need_session()
        if self.model_state is None:
            raise ClodeError("no model is loaded (choose one in Preferences)")
        return auto_choice(session, self.model_state.default_T)

    def taste_key(self) -> Optional[str]:
        """The loaded model's key in the taste records (``clode.engine.taste.model_key``)."""
        return None if self.enhancer is None else model_key(self.enhancer.model)

    def export(self, target: Path, options, adjustments: Adjustments,
               progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> Path:
        session, photo = self._need_session(), self._need_photo()
        state = self.model_state
        return enhance_to_file(photo, target, adjustments, session=session, options=options,
                               model=state.name if state else "?", progress=progress, cancel=cancel).path
