"""Reading photos: everyday formats through Pillow/tifffile, camera RAW through rawpy (LibRaw).

Every reader returns a :class:`Photo`: upright (EXIF orientation applied) H x W x 3 float32 pixels in
[0, 1], plus what the exporter needs to write a faithful file (EXIF, ICC profile, source bit depth,
camera, capture time). Every failure a file can cause is raised as :class:`ImageReadError` with one
line naming the file and the problem.
"""

from __future__ import annotations

import io
import logging
import os
import struct
import sys
import threading
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Optional, Union

import numpy as np
from PIL import Image, ImageCms, ImageFile, TiffImagePlugin, UnidentifiedImageError

from clode.base.errors import ImageReadError
from clode.base.paths import real_path
from clode.base.pixels import resize  # noqa: F401 - also this module's public resize

PathLike = Union[str, os.PathLike]

STANDARD_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".webp", ".bmp"})
RAW_EXTENSIONS = frozenset({
    ".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".raf", ".orf", ".rw2",
    ".pef", ".ptx", ".srw", ".raw", ".rwl", ".3fr", ".fff", ".iiq", ".mos", ".mef", ".mrw", ".x3f",
    ".erf", ".kdc", ".dcr", ".k25", ".dcs", ".mdc", ".bay", ".cap", ".eip", ".gpr", ".sti",
})
SUPPORTED_EXTENSIONS = STANDARD_EXTENSIONS | RAW_EXTENSIONS

# Well above 100 MP (a 102 MP medium-format frame, a stitched panorama) and far below what would
# exhaust memory as float32 (400 MP x 12 bytes = 4.8 GB).
DEFAULT_MAX_PIXELS = 400_000_000
#: Bytes per pixel a decode holds besides the decoder's own samples: float32 RGB, a second copy
#: while turning it upright, and float32 alpha.
_FLOAT_BYTES = 12 + 12 + 4


def default_max_bytes() -> int:
    """The memory a decode may take (``load_image``'s ``max_bytes``): half the machine's memory,
    at most 6 GiB, so a small file that declares a huge image (a decompression bomb) is refused
    from its header instead of exhausting memory. ``CLODE_MAX_DECODE_MB`` overrides it."""
    override = os.environ.get("CLODE_MAX_DECODE_MB")
    if override:
        try:
            return max(1, int(float(override) * 2 ** 20))
        except ValueError:
            pass
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        physical = 16 * 2 ** 30
    return int(min(6 * 2 ** 30, physical // 2))

# tifffile reports what it works around (odd tags, bad values) through logging: with nobody
# listening, logging's last resort would print it on stderr; a program that configures logging
# still gets it.
logging.getLogger("tifffile").addHandler(logging.NullHandler())

# Pillow formats we accept ("JPEG" also opens the multi-picture MPO files many cameras write).
_PIL_FORMATS = ["JPEG", "PNG", "TIFF", "WEBP", "BMP"]
_FORMAT_NAMES = "JPEG, PNG, TIFF, WebP, BMP and camera RAW"
_KIND_BY_EXTENSION = {".jpg": "JPEG", ".jpeg": "JPEG", ".jpe": "JPEG", ".png": "PNG", ".tif": "TIFF",
                      ".tiff": "TIFF", ".webp": "WebP", ".bmp": "BMP"}

_TAG_ORIENTATION = 0x0112
_TAG_MAKE = 0x010F
_TAG_MODEL = 0x0110
_TAG_DATETIME = 0x0132
_TAG_EXIF_IFD = 0x8769
_TAG_DATETIME_ORIGINAL = 0x9003


@dataclass
class RawOptions:
    """How a camera RAW file is developed. The defaults suit CLODE: it does the brightening itself,
    so the RAW is developed linear-exposure-faithful (no auto-brightening), 16-bit, in sRGB."""

    white_balance: str = "camera"        # "camera" (as shot), "auto" (grey world), "daylight"
    demosaic: str = "AHD"                # LibRaw algorithm: "AHD", "DHT", "AAHD", "VNG", "PPG", "LINEAR"
    highlights: str = "clip"             # "clip", "unclip", "blend", or "reconstruct"
    exposure: float = 1.0                # linear scale before the gamma (LibRaw's exp_shift); 1 = as shot
    # LibRaw's default (0.75) lowers the white point to the data's maximum whenever that is above
    # 75 % of it: a photo with a highlight would come out brighter than the same scene without one.
    # 0 keeps the exposure as shot, which CLODE's exposure dial relies on.
    adjust_maximum: float = 0.0
    embedded_preview: bool = False       # load_preview: use the camera's embedded JPEG when big enough
    # (off by default: the camera's JPEG is already brightened and tone-mapped, so it would not
    # look like the full decode CLODE enhances)


@dataclass
class Photo:
    pixels: np.ndarray                   # H x W x 3 float32 in [0, 1], upright, display RGB (sRGB unless icc_profile)
    path: Path
    alpha: Optional[np.ndarray] = None   # H x W float32 in [0, 1], or None
    bit_depth: int = 8                   # precision of the source: 8 or 16
    exif: Optional[bytes] = None         # source EXIF block (Pillow's Image.Exif().tobytes() form)
    icc_profile: Optional[bytes] = None
    make: Optional[str] = None
    model: Optional[str] = None
    capture_time: Optional[str] = None   # EXIF DateTimeOriginal text, "YYYY:MM:DD HH:MM:SS"
    is_raw: bool = False
    is_preview: bool = False             # True when from the fast preview path (smaller than full)
    full_size: tuple[int, int] = field(default=(0, 0))   # (H, W) of the full-resolution decode

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) of these pixels."""
        return self.pixels.shape[0], self.pixels.shape[1]


def is_raw_path(path: PathLike) -> bool:
    return Path(path).suffix.lower() in RAW_EXTENSIONS


def is_supported(path: PathLike) -> bool:
    return Path(path).suffix.lower() in SUPPORTED_EXTENSIONS


def find_images(folder: PathLike, recursive: bool = True,
                exclude: Union[PathLike, Iterable[PathLike], None] = None) -> list[Path]:
    """Supported images in ``folder`` (any extension case), sorted; hidden files and folders are skipped,
    and so is anything inside ``exclude`` (a path or several, e.g. the output folder)."""
    folder = Path(folder)
    if exclude is None:
        excluded = []
    elif isinstance(exclude, (str, os.PathLike)):
        excluded = [real_path(exclude)]
    else:
        excluded = [real_path(p) for p in exclude]
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames
                             if not d.startswith(".") and real_path(here / d) not in excluded)
        if not recursive:
            dirnames[:] = []
        for name in filenames:
            p = here / name
            # real_path: a symlink loop named *.jpg is found (and refused when read), not a crash
            if not name.startswith(".") and is_supported(p) and (not excluded or real_path(p) not in excluded):
                found.append(p)
    return sorted(found, key=lambda p: [part.lower() for part in p.relative_to(folder).parts])


# ----------------------------------------------------------------------------------------------
# Public entry points

def load_image(path: PathLike, *, max_pixels: int = DEFAULT_MAX_PIXELS, max_bytes: Optional[int] = None,
               raw: Optional[RawOptions] = None) -> Photo:
    """Decode the whole image at full resolution (the export path). A file whose decode would
    take more than ``max_bytes`` of memory (default ``default_max_bytes()``) or has more than
    ``max_pixels`` is refused from its header."""
    path = _check_file(path)
    budget = _Budget(max_pixels, default_max_bytes() if max_bytes is None else max_bytes)
    if is_raw_path(path):
        return _load_raw(path, budget, raw or RawOptions(), preview_side=None)
    return _load_standard(path, budget, preview_side=None)


def load_preview(path: PathLike, max_side: int = 2048, *, max_pixels: int = DEFAULT_MAX_PIXELS,
                 max_bytes: Optional[int] = None, raw: Optional[RawOptions] = None) -> Photo:
    """A quick, smaller decode whose long side is at most ``max_side`` (JPEG draft mode, LibRaw
    half-size or the embedded preview); ``full_size`` tells the full decode's size."""
    path = _check_file(path)
    if max_side < 1:
        raise ValueError("max_side must be positive")
    budget = _Budget(max_pixels, default_max_bytes() if max_bytes is None else max_bytes)
    if is_raw_path(path):
        return _load_raw(path, budget, raw or RawOptions(), preview_side=max_side)
    return _load_standard(path, budget, preview_side=max_side)


def read_size(path: PathLike) -> tuple[int, int]:
    """(width, height) of the upright photo ``load_image`` would decode, from the file's header
    only (quick on big folders). Raises ImageReadError, one line naming the file, as load_image
    does; a file whose header reads but whose data is damaged passes here."""
    path = _check_file(path)
    if is_raw_path(path):
        import rawpy

        with _DecoderMessages():
            try:
                with rawpy.imread(str(path)) as raw:
                    s = raw.sizes
                    return (s.height, s.width) if s.flip & 4 else (s.width, s.height)
            except (rawpy.LibRawError, OSError, ValueError, MemoryError) as e:
                raise _fail(path, _raw_error(e)) from None
    try:
        im = _open_standard(path)
    except ImageReadError:
        size = _tifffile_size(path)
        if size is None:
            raise
        return size
    with im:
        w, h = im.size
        # Pillow's TIFF loader turns the image upright itself and reports the upright size
        orientation = None if im.format == "TIFF" else _exif_fields(_exif_of(im))[0]
    return (h, w) if _swaps_axes(orientation) else (w, h)


# ----------------------------------------------------------------------------------------------
# Checks shared by every format

def _fail(path: Path, problem: str) -> ImageReadError:
    return ImageReadError(f"{path}: {problem}")


def _check_file(path: PathLike) -> Path:
    path = Path(path)
    if not path.exists():
        try:
            os.stat(path)
        except OSError as e:        # a symlink loop or a dangling link says so, not "not found"
            if os.path.lexists(path) and e.strerror:
                raise _fail(path, f"cannot read ({e.strerror})") from None
        raise _fail(path, "file not found")
    if path.is_dir():
        raise _fail(path, "is a folder, not an image file")
    if not path.is_file():
        raise _fail(path, "not a regular file")
    if not os.access(path, os.R_OK):
        raise _fail(path, "permission denied (the file is not readable)")
    if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
        kind = f"'{path.suffix}'" if path.suffix else "without an extension"
        raise _fail(path, f"unsupported file type {kind} (supported: {_FORMAT_NAMES})")
    try:
        size = path.stat().st_size
    except OSError as e:
        raise _fail(path, f"cannot read ({e.strerror or e})") from None
    if size == 0:
        raise _fail(path, "empty file (0 bytes)")
    return path


@dataclass(frozen=True)
class _Budget:
    max_pixels: int
    max_bytes: int


def _check_pixels(path: Path, width: int, height: int, budget: _Budget, sample_bytes: int = 3) -> None:
    """Refuse a size the decode cannot afford; ``sample_bytes``: what the decoder holds per pixel."""
    if width <= 0 or height <= 0:
        raise _fail(path, f"invalid image size {width}x{height}")
    if width * height > budget.max_pixels:
        raise _fail(path, f"image too large: {width}x{height} = {width * height / 1e6:.0f} MP "
                          f"exceeds the limit of {budget.max_pixels / 1e6:.0f} MP")
    need = width * height * (sample_bytes + _FLOAT_BYTES)
    if need > budget.max_bytes:
        raise _fail(path, f"image too large: {width}x{height} would take {need / 2 ** 30:.1f} GiB to decode, "
                          f"more than the {budget.max_bytes / 2 ** 30:.1f} GiB allowed")


def _describe(e: BaseException) -> str:
    """A one-line reason from a decoder's exception."""
    text = " ".join(str(e).split()) or type(e).__name__
    if isinstance(e, MemoryError):
        return "not enough memory to decode it"
    if "truncated" in text.lower():
        return "the file is truncated (incomplete image data)"
    if len(text) > 160:
        text = text[:157] + "..."
    return f"corrupt or unreadable image data ({text})"


# ----------------------------------------------------------------------------------------------
# Orientation

def orient(a: np.ndarray, orientation: Optional[int]) -> np.ndarray:
    """Make pixels stored with EXIF ``orientation`` (1-8) upright (works for H x W [x C] arrays)."""
    if orientation == 2:
        a = a[:, ::-1]
    elif orientation == 3:
        a = a[::-1, ::-1]
    elif orientation == 4:
        a = a[::-1]
    elif orientation == 5:
        a = a.swapaxes(0, 1)
    elif orientation == 6:
        a = a.swapaxes(0, 1)[:, ::-1]
    elif orientation == 7:
        a = a.swapaxes(0, 1)[::-1, ::-1]
    elif orientation == 8:
        a = a.swapaxes(0, 1)[::-1]
    return np.ascontiguousarray(a)


def _swaps_axes(orientation: Optional[int]) -> bool:
    return orientation in (5, 6, 7, 8)


# ----------------------------------------------------------------------------------------------
# Everyday formats (Pillow; tifffile for TIFFs of more than 8 bits)

_PIL_LOCK = threading.Lock()
_SRGB_PROFILE = None


def srgb_profile() -> bytes:
    """An sRGB ICC profile (made by LittleCMS through Pillow, so nothing is shipped)."""
    global _SRGB_PROFILE
    if _SRGB_PROFILE is None:
        _SRGB_PROFILE = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return _SRGB_PROFILE


def _open_pil(path: Path) -> ImageFile.ImageFile:
    # Pillow's own bomb guard is a process-wide constant (89 MP, error at 179 MP) below our limit;
    # we check the size ourselves before decoding, so it is lifted while the header is read.
    with _PIL_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        Image.init()   # registers every plugin (WebP and TIFF are not among the preloaded ones)
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            return Image.open(path, formats=_PIL_FORMATS)
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _open_standard(path: Path) -> ImageFile.ImageFile:
    """The opened (header-read) Pillow image, or ImageReadError with the reason."""
    try:
        return _open_pil(path)
    except UnidentifiedImageError:
        kind = _KIND_BY_EXTENSION.get(path.suffix.lower(), "image")
        raise _fail(path, f"not a valid {kind} file (unrecognised or damaged contents)") from None
    except FileNotFoundError:
        raise _fail(path, "file not found") from None
    except PermissionError:
        raise _fail(path, "permission denied (the file is not readable)") from None
    except (OSError, SyntaxError, ValueError, struct.error, EOFError, MemoryError) as e:
        raise _fail(path, _describe(e)) from None


def _load_standard(path: Path, budget: _Budget, preview_side: Optional[int]) -> Photo:
    # Pillow's warnings (a broken EXIF, a truncated profile...) never reach the user's stderr:
    # what matters is in our one line, or the photo is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            im = _open_standard(path)
        except ImageReadError:
            photo = _load_tifffile(path, budget, preview_side)   # float / 32-bit TIFFs Pillow cannot open
            if photo is None:
                raise
            return photo
        with im:
            try:
                return _decode_pil(path, im, budget, preview_side)
            except ImageReadError:
                raise
            except (OSError, SyntaxError, ValueError, struct.error, EOFError, MemoryError, IndexError,
                    KeyError, TypeError, ImageCms.PyCMSError) as e:
                raise _fail(path, _describe(e)) from None


def _tifffile_size(path: Path) -> Optional[tuple[int, int]]:
    """(width, height) of a TIFF through tifffile, or None if it is not one it reads."""
    if path.suffix.lower() not in (".tif", ".tiff"):
        return None
    import tifffile

    try:
        with tifffile.TiffFile(path) as tf:
            page = tf.pages[0]
            if not isinstance(page, tifffile.TiffPage):     # (the first page always is one)
                return None
            return int(page.imagewidth), int(page.imagelength)
    except Exception:
        return None


def _load_tifffile(path: Path, budget: _Budget, preview_side: Optional[int]) -> Optional[Photo]:
    """A TIFF that Pillow cannot open (32-bit float or integer RGB, 16-bit float, signed), or None."""
    size = _tifffile_size(path)
    if size is None:
        return None
    width, height = size
    _check_pixels(path, width, height, budget, sample_bytes=32)
    try:
        rgb, alpha, bits = _decode_tiff_deep(path)
    except MemoryError:
        raise _fail(path, "not enough memory to decode it") from None
    if rgb is None:
        return None
    photo = Photo(pixels=rgb, path=path, alpha=alpha, bit_depth=bits, full_size=rgb.shape[:2])
    return _downscale_photo(photo, preview_side) if preview_side is not None else photo


def _exif_of(im: Image.Image) -> Optional[Image.Exif]:
    try:
        exif = im.getexif()
    except Exception:  # a broken EXIF block must not make the photo unreadable
        return None
    return exif if len(exif) else None


def _exif_fields(exif: Optional[Image.Exif]) -> tuple[Optional[int], Optional[str], Optional[str], Optional[str]]:
    """orientation, make, model, capture time from an EXIF block."""
    if exif is None:
        return None, None, None, None

    def text(v):
        if isinstance(v, bytes):
            v = v.decode("latin-1", "replace")
        v = str(v).strip("\x00 ").strip() if v is not None else ""
        return v or None

    orientation = exif.get(_TAG_ORIENTATION)
    try:
        orientation = int(orientation) if orientation is not None else None
    except (TypeError, ValueError):
        orientation = None
    try:
        sub = exif.get_ifd(_TAG_EXIF_IFD)
    except Exception:
        sub = {}
    # DateTime (0x0132) is when the file was last changed, not taken: not a capture time
    when = text(sub.get(_TAG_DATETIME_ORIGINAL)) or text(exif.get(_TAG_DATETIME_ORIGINAL))
    return orientation, text(exif.get(_TAG_MAKE)), text(exif.get(_TAG_MODEL)), when


def _exif_bytes(exif: Optional[Image.Exif]) -> Optional[bytes]:
    if exif is None:
        return None
    try:
        return exif.tobytes()
    except Exception:
        return None


def _decode_pil(path: Path, im: ImageFile.ImageFile, budget: _Budget, preview_side: Optional[int]) -> Photo:
    try:
        im.seek(0)
    except EOFError:
        pass
    width, height = im.size
    png16 = _png_16bit_colour(im)
    if preview_side is not None and im.format in ("JPEG", "MPO"):
        _check_pixels(path, width, height, replace(budget, max_bytes=2 ** 62))   # draft mode decodes it smaller
    else:
        bits = _tiff_bits(im) if im.format == "TIFF" else 16 if png16 else 8
        sample_bytes = len(im.getbands()) * max(1, (bits + 7) // 8) * (2 if png16 else 1)
        _check_pixels(path, width, height, budget, sample_bytes)

    if preview_side is not None and im.format in ("JPEG", "MPO"):
        scale = max(width, height) / preview_side
        if scale >= 2:
            # JPEG draft mode: libjpeg decodes at 1/2, 1/4 or 1/8 scale directly (never below the target)
            im.draft("RGB" if im.mode == "RGB" else None,
                     (max(1, int(width / scale)), max(1, int(height / scale))))

    rgb, alpha, bit_depth = None, None, 8
    if im.format == "TIFF" and _tiff_bits(im) > 8:
        rgb, alpha, bit_depth = _decode_tiff_deep(path)
    elif png16:
        rgb, alpha, bit_depth = _decode_png16(path)
    if rgb is None:
        # Decode the pixels before anything reads the EXIF: a PNG's getexif() decodes the image to
        # reach EXIF stored after it, and _exif_of's guard would swallow a damaged stream ("broken
        # data stream") while Pillow marks the image loaded, leaving black or partial pixels.
        if im.format == "TIFF":
            with _DecoderMessages():   # libtiff prints its warnings on stderr (TIFFFetchNormalTag...)
                im.load()
        else:
            im.load()
    exif = _exif_of(im)
    orientation, make, model, when = _exif_fields(exif)
    icc = im.info.get("icc_profile") or None
    full_size = (width, height) if _swaps_axes(orientation) else (height, width)   # (H, W) once upright
    if rgb is None:
        if isinstance(im, TiffImagePlugin.TiffImageFile) and _TAG_ORIENTATION not in im.tag_v2:
            orientation = None   # Pillow's TIFF loader has already turned the image upright
        decoded: Image.Image = im
        if preview_side is not None and max(im.size) > preview_side and im.mode in ("RGB", "RGBA", "L", "LA") \
                and "transparency" not in im.info:
            # shrink while still 8-bit: several times faster than on float planes
            s = preview_side / max(im.size)
            decoded = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))),
                                Image.Resampling.BILINEAR, reducing_gap=2.0)
        rgb, alpha, bit_depth, icc = _pil_to_float(decoded, icc)

    rgb = orient(rgb, orientation)
    if alpha is not None:
        alpha = orient(alpha, orientation)
    photo = Photo(pixels=rgb, path=path, alpha=alpha, bit_depth=bit_depth, exif=_exif_bytes(exif),
                  icc_profile=icc, make=make, model=model, capture_time=when, is_raw=False,
                  is_preview=False, full_size=full_size)
    if preview_side is not None:
        photo = _downscale_photo(photo, preview_side)
    return photo


def _tiff_bits(im: Image.Image) -> int:
    bits = im.tag_v2.get(258, (8,)) if hasattr(im, "tag_v2") else (8,)
    if isinstance(bits, int):
        bits = (bits,)
    return max(bits) if bits else 8


def _png_16bit_colour(im: ImageFile.ImageFile) -> bool:
    """A PNG with 16-bit RGB(A) samples, which Pillow would cut to 8 bits."""
    if im.format != "PNG" or im.mode not in ("RGB", "RGBA") or not im.tile:
        return False
    return im.tile[0].args in ("RGB;16B", "RGBA;16B")


def _decode_png16(path: Path):
    """16-bit colour PNG at full precision. Pillow unpacks such rows to 8 bits, keeping the high byte;
    decoding twice, once reading the samples as little-endian, yields the low bytes too (both passes
    run Pillow's own C decoder, interlacing and all)."""
    planes = []
    for rawmode_suffix in ("16B", "16L"):
        with _open_pil(path) as im:
            t = im.tile[0]
            im.tile = [t._replace(args=f"{im.mode};{rawmode_suffix}")]
            im.load()
            planes.append(np.asarray(im, dtype=np.uint16))
    a = (planes[0] << 8) | planes[1]
    rgb = a[..., :3].astype(np.float32) / 65535.0
    alpha = a[..., 3].astype(np.float32) / 65535.0 if a.shape[2] == 4 else None
    return rgb, alpha, 16


def _decode_tiff_deep(path: Path):
    """TIFFs of more than 8 bits per sample, through tifffile (Pillow has no 16-bit RGB mode)."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tf:
            page = tf.pages[0]
            if not isinstance(page, tifffile.TiffPage):     # (the first page always is one)
                return None, None, 8
            a = page.asarray()
            planar = page.planarconfig == 2
            photometric = int(page.photometric)
            extras = len(page.extrasamples) if page.extrasamples else 0
    except Exception:
        return None, None, 8   # let Pillow try (and report the problem if it cannot either)
    if planar and a.ndim == 3:
        a = np.moveaxis(a, 0, -1)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3:
        return None, None, 8
    if a.dtype.kind == "f":
        f = np.nan_to_num(a.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        f = np.clip(f, 0.0, 1.0)
    elif a.dtype.kind in "ui":
        top = float(np.iinfo(a.dtype).max) if a.dtype.itemsize <= 2 else float(max(1, a.max()))
        f = np.clip(a.astype(np.float32) / top, 0.0, 1.0)
    else:
        return None, None, 8
    if photometric == 0:   # MinIsWhite
        f[..., :1] = 1.0 - f[..., :1]
    colour = f.shape[2] - extras if extras else (3 if f.shape[2] >= 3 else 1)
    colour = 3 if colour >= 3 else 1
    alpha = f[..., colour].copy() if f.shape[2] > colour else None
    rgb = np.repeat(f[..., :1], 3, axis=2) if colour == 1 else np.ascontiguousarray(f[..., :3])
    return rgb.astype(np.float32, copy=False), alpha, 16


def _pil_to_float(im: Image.Image, icc: Optional[bytes]):
    """Any Pillow mode to float RGB (+ alpha); returns rgb, alpha, bit_depth, icc of the result."""
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        g = np.asarray(im, dtype=np.uint16).astype(np.float32) / 65535.0
        return np.repeat(g[..., None], 3, axis=2), None, 16, icc
    if mode == "I":
        a = np.asarray(im, dtype=np.int64)
        top = 65535.0 if a.max(initial=0) <= 65535 else float(a.max())
        g = np.clip(a.astype(np.float32) / top, 0, 1)
        return np.repeat(g[..., None], 3, axis=2), None, 16, icc
    if mode == "F":
        g = np.clip(np.nan_to_num(np.asarray(im, dtype=np.float32)), 0, 1)
        return np.repeat(g[..., None], 3, axis=2), None, 16, icc
    if mode == "CMYK":
        if icc:
            try:
                src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
                dst = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
                # Pillow's stub: None only with inPlace=True (its return type has no overload for it)
                im = ImageCms.profileToProfile(im, src, dst, outputMode="RGB")  # type: ignore[assignment]
                icc = None   # the pixels are sRGB now
            except (ImageCms.PyCMSError, OSError):
                im = im.convert("RGB")
                icc = None
        else:
            im = im.convert("RGB")
        return _to_float8(np.asarray(im)), None, 8, icc
    if icc and mode in ("L", "LA", "1", "I;16"):
        icc = None   # a grey profile does not describe RGB pixels
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in im.info
        im = im.convert("RGBA" if has_alpha else "RGB")
        mode = im.mode
    elif mode in ("RGBa", "La"):
        im = im.convert("RGBA")
        mode = "RGBA"
    elif mode == "LA" or (mode == "L" and "transparency" in im.info):
        im = im.convert("LA") if mode == "L" else im
        a = np.asarray(im)
        g = _to_float8(a[..., 0])
        return np.repeat(g[..., None], 3, axis=2), _to_float8(a[..., 1]), 8, None
    elif mode == "RGB" and "transparency" in im.info:
        im = im.convert("RGBA")
        mode = "RGBA"
    if mode == "RGBA":
        a = np.asarray(im)
        return _to_float8(a[..., :3]), _to_float8(a[..., 3]), 8, icc
    if mode in ("1", "L"):
        g = _to_float8(np.asarray(im.convert("L")))
        return np.repeat(g[..., None], 3, axis=2), None, 8, None
    if mode != "RGB":
        im = im.convert("RGB")
    return _to_float8(np.asarray(im)), None, 8, icc


def _to_float8(a: np.ndarray) -> np.ndarray:
    return np.multiply(a, np.float32(1.0 / 255.0), dtype=np.float32)


def _downscale_photo(photo: Photo, max_side: int) -> Photo:
    h, w = photo.pixels.shape[:2]
    photo.is_preview = (h, w) != tuple(photo.full_size)
    if max(h, w) <= max_side:
        return photo
    s = max_side / max(h, w)
    size = (max(1, round(h * s)), max(1, round(w * s)))
    photo.pixels = resize(photo.pixels, size)
    if photo.alpha is not None:
        photo.alpha = resize(photo.alpha, size)
    photo.is_preview = True
    return photo


# ----------------------------------------------------------------------------------------------
# Camera RAW (rawpy / LibRaw)

def _raw_params(opts: RawOptions, half_size: bool) -> dict:
    import rawpy

    wb = opts.white_balance.lower()
    if wb not in ("camera", "auto", "daylight"):
        raise ValueError(f"unknown white balance {opts.white_balance!r}")
    demosaic = getattr(rawpy.DemosaicAlgorithm, opts.demosaic.upper(), None)
    if demosaic is None:
        raise ValueError(f"unknown demosaic algorithm {opts.demosaic!r}")
    highlight = {"clip": rawpy.HighlightMode.Clip, "unclip": rawpy.HighlightMode.Ignore,
                 "blend": rawpy.HighlightMode.Blend,
                 "reconstruct": rawpy.HighlightMode.Reconstruct(5)}.get(opts.highlights.lower())
    if highlight is None:
        raise ValueError(f"unknown highlight mode {opts.highlights!r}")
    params = dict(
        use_camera_wb=wb == "camera", use_auto_wb=wb == "auto",
        no_auto_bright=True, output_bps=16, output_color=rawpy.ColorSpace.sRGB,
        gamma=(2.4, 12.92),            # the sRGB curve (LibRaw's default is BT.709's)
        highlight_mode=highlight, half_size=half_size, adjust_maximum_thr=float(opts.adjust_maximum),
    )
    if not half_size:
        params["demosaic_algorithm"] = demosaic
    if opts.exposure != 1.0:
        params["exp_shift"] = float(min(8.0, max(0.25, opts.exposure)))
        params["exp_preserve_highlights"] = 0.0
    return params


def _raw_error(e: BaseException) -> str:
    import rawpy

    if isinstance(e, MemoryError):
        return "not enough memory to decode it"
    if isinstance(e, rawpy.LibRawFileUnsupportedError):
        return "not a supported camera RAW file (LibRaw does not recognise it)"
    if isinstance(e, (rawpy.LibRawIOError, EOFError)):
        return "the RAW file is truncated or cannot be read"
    if isinstance(e, rawpy.LibRawDataError):
        return "the RAW data is corrupt"
    text = " ".join(str(e).strip("b'\"").split()) or type(e).__name__
    return f"cannot decode the RAW file ({text})"


def _load_raw(path: Path, budget: _Budget, opts: RawOptions, preview_side: Optional[int]) -> Photo:
    import rawpy

    params = _raw_params(opts, half_size=preview_side is not None)
    with _DecoderMessages() as messages:
        try:
            raw = rawpy.imread(str(path))   # reads the header only; the data is unpacked on demand
        except (rawpy.LibRawError, OSError, ValueError, MemoryError) as e:
            raise _fail(path, _raw_error(e)) from None
        with raw:
            try:
                s = raw.sizes
                _check_pixels(path, s.raw_width, s.raw_height, budget, sample_bytes=2)
                _check_pixels(path, s.width, s.height, budget, sample_bytes=2 + 6)
                full_size = (s.width, s.height) if s.flip & 4 else (s.height, s.width)   # flip & 4: axes swap
                rgb = None
                if preview_side is not None and opts.embedded_preview:
                    rgb = _raw_thumbnail(raw, full_size, preview_side)
                if rgb is None:
                    a = raw.postprocess(**params)
                    rgb = np.multiply(a, np.float32(1.0 / 65535.0), dtype=np.float32)   # one pass
                when = raw.other.timestamp
            except ImageReadError:
                raise
            except (rawpy.LibRawError, OSError, ValueError, MemoryError) as e:
                raise _fail(path, _raw_error(e)) from None
    # LibRaw reports damage it worked around (zeros for missing data) only as a message on stderr
    if any("end of file" in m.lower() for m in messages.lines):
        raise _fail(path, "the RAW file is truncated (incomplete image data)")
    if any("corrupt" in m.lower() for m in messages.lines):
        raise _fail(path, "the RAW data is corrupt")
    make, model, exif_when, exif = _raw_metadata(path)
    capture = exif_when
    if capture is None and when is not None and when.year > 1970:
        capture = when.strftime("%Y:%m:%d %H:%M:%S")
    photo = Photo(pixels=rgb, path=path, alpha=None, bit_depth=16, exif=exif, icc_profile=srgb_profile(),
                  make=make, model=model, capture_time=capture, is_raw=True, is_preview=False,
                  full_size=full_size)
    if preview_side is not None:
        photo = _downscale_photo(photo, preview_side)
    return photo


class _DecoderMessages:
    """Catch what a C decoder prints on the process's stderr, so the user sees our one line instead:
    LibRaw (it has no other channel for "Unexpected end of file" and "data corrupted", which tell
    us of the damage: kept in ``lines``) and libtiff inside Pillow (its warnings, dropped).

    File descriptor 2 is process-wide, so such decodes take turns."""

    _lock = threading.Lock()

    def __enter__(self) -> _DecoderMessages:
        import tempfile

        self.lines: list[str] = []
        self._saved: Optional[int]
        self._lock.acquire()
        try:
            sys.stderr.flush()
            self._saved = os.dup(2)
            self._capture = tempfile.TemporaryFile()
            os.dup2(self._capture.fileno(), 2)
        except (OSError, ValueError, AttributeError):   # no usable stderr (e.g. a GUI without console)
            self._saved = None
        return self

    def __exit__(self, *exc):
        try:
            if self._saved is not None:
                try:
                    sys.stderr.flush()
                except (OSError, ValueError, AttributeError):
                    pass
                os.dup2(self._saved, 2)
                os.close(self._saved)
                self._capture.seek(0)
                text = self._capture.read().decode("utf-8", "replace")
                self._capture.close()
                # LibRaw's other messages are dropped: the user sees our one line or nothing.
                self.lines = [line for line in text.splitlines()
                              if "unexpected end of file" in line.lower() or "data corrupted" in line.lower()]
        finally:
            self._lock.release()
        return False


# LibRaw's (dcraw's) flip codes as EXIF orientations (dcraw maps EXIF o to "50132467"[o & 7])
_LIBRAW_FLIP_TO_EXIF = {0: 1, 1: 2, 3: 3, 2: 4, 4: 5, 6: 6, 7: 7, 5: 8}


def _raw_thumbnail(raw, full_size: tuple[int, int], preview_side: int) -> Optional[np.ndarray]:
    """The camera's embedded preview, if it is big enough and has the photo's shape."""
    import rawpy

    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawError, OSError):
        return None
    try:
        if thumb.format == rawpy.ThumbFormat.JPEG:
            with Image.open(io.BytesIO(thumb.data)) as im:
                im.draft("RGB", (preview_side, preview_side))
                a = np.asarray(im.convert("RGB"))
        else:
            a = np.asarray(thumb.data)
            if a.ndim != 3 or a.shape[2] != 3:
                return None
    except Exception:
        return None
    flip = _LIBRAW_FLIP_TO_EXIF.get(raw.sizes.flip)
    a = orient(a, flip)
    h, w = a.shape[:2]
    H, W = full_size
    if max(h, w) < min(preview_side, max(H, W)) // 2 or abs(w / h - W / H) > 0.05 * (W / H):
        return None
    top = 65535.0 if a.dtype == np.uint16 else 255.0
    return a.astype(np.float32) / np.float32(top)


_RAW_EXIF_TAGS_IFD0 = (0x010F, 0x0110, 0x0132, 0x013B, 0x8298)   # Make, Model, DateTime, Artist, Copyright
_RAW_EXIF_TAGS_SUB = (
    0x829A, 0x829D, 0x8822, 0x8827, 0x8830, 0x8832, 0x9003, 0x9004, 0x9010, 0x9011, 0x9012, 0x9201,
    0x9202, 0x9204, 0x9205, 0x9207, 0x9208, 0x9209, 0x920A, 0xA405, 0xA431, 0xA432, 0xA433, 0xA434,
    0xA435,
)   # exposure, aperture, ISO, dates and offsets, metering, flash, focal length, lens


def _raw_metadata(path: Path):
    """Make, model, capture time and a clean EXIF block from a TIFF-based RAW (DNG, NEF, CR2, ARW,
    PEF, ORF, RW2, SRW...), best effort: only the well-defined tags are copied (no maker notes,
    whose offsets would break in another file). Other containers (CR3, RAF) give Nones."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if head[:2] not in (b"II", b"MM"):
                return None, None, None, None
            prefix = head[:2] + (b"\x2a\x00" if head[:2] == b"II" else b"\x00\x2a")
            ifd = TiffImagePlugin.ImageFileDirectory_v2(prefix + head[4:8])
            f.seek(ifd.next)
            ifd.load(f)
            tags = dict(ifd)
            sub = {}
            if _TAG_EXIF_IFD in tags:
                exif_ifd = TiffImagePlugin.ImageFileDirectory_v2(prefix + head[4:8])
                f.seek(int(tags[_TAG_EXIF_IFD]))
                exif_ifd.load(f)
                sub = dict(exif_ifd)
    except Exception:
        return None, None, None, None
    exif = Image.Exif()
    for tag in _RAW_EXIF_TAGS_IFD0:
        if tag in tags:
            exif[tag] = tags[tag]
    sub_keep = {t: sub[t] for t in _RAW_EXIF_TAGS_SUB if t in sub}
    if _TAG_DATETIME_ORIGINAL not in sub_keep and _TAG_DATETIME_ORIGINAL in tags:
        sub_keep[_TAG_DATETIME_ORIGINAL] = tags[_TAG_DATETIME_ORIGINAL]   # some DNGs keep it in IFD0
    if sub_keep:
        exif.get_ifd(_TAG_EXIF_IFD).update(sub_keep)
    _, make, model, when = _exif_fields(exif) if len(exif) else (None, None, None, None)
    try:
        data = exif.tobytes() if len(exif) else None
    except Exception:
        data = None
    return make, model, when, data
