"""Writing results: JPEG, PNG 8/16, TIFF 8/16 and WebP, with the source's metadata carried over.

EXIF is copied from the source with the orientation reset to 1 (the pixels are upright), the ICC
profile is embedded (sRGB for RAW sources), and provenance (software, version, T, model) goes into
tags a viewer shows: EXIF Software / ImageDescription, PNG text chunks, TIFF tags and XMP. Every
write is atomic, and the source file is never overwritten.
"""

from __future__ import annotations

import datetime as _dt
import io
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Union
from xml.sax.saxutils import escape

import numpy as np
from PIL import Image

from clode.base.version import __version__
from clode.base.atomic import TargetExists, atomic_write
from clode.base.errors import ImageWriteError
from clode.io.imageio import Photo, is_raw_path, srgb_profile
from clode.base.pixels import fit_long_edge, quantize, resize

PathLike = Union[str, os.PathLike]

SOFTWARE = f"CLODE Desktop {__version__}"
FORMAT_EXTENSIONS = {"jpeg": ".jpg", "png": ".png", "tiff": ".tif", "webp": ".webp"}
_EXTENSION_FORMATS = {".jpg": "jpeg", ".jpeg": "jpeg", ".jpe": "jpeg", ".png": "png", ".tif": "tiff",
                      ".tiff": "tiff", ".webp": "webp"}
_SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}
SUBSAMPLINGS = tuple(_SUBSAMPLING)
_TIFF_COMPRESSION = {None: None, "none": None, "deflate": "zlib", "zlib": "zlib", "lzw": "lzw",
                     "packbits": "packbits"}
#: Each format's name for people, and which formats are lossy (a quality setting) or deep (16 bits).
FORMAT_NAMES = {"jpeg": "JPEG", "png": "PNG", "tiff": "TIFF", "webp": "WebP"}
LOSSY = ("jpeg", "webp")
DEEP = ("png", "tiff")
#: zlib level of every PNG written. Level 6 (zlib's default) took 3-14 s for a noisy 24 MP photo on
#: one core; a lower level costs a few per cent of size for several times the speed
#: (benchmarks/speed/bench_png_level.py; the figures are in the commit that chose it).
PNG_LEVEL = 1
#: Row filter and zlib strategy (imagecodecs' codes): the "sub" filter with run-length matching,
#: as OpenCV writes fast PNGs. On a grainy 24 MP photo, 16-bit: 3.2-3.6x faster than per-row
#: filter choice with zlib's default matching, and 2-3 % smaller; 8-bit: 2-3x faster than
#: Pillow at level 1, 19 % smaller when grainy, 9 % larger when smooth
#: (benchmarks/speed/bench_png16.py; the figures are in the commit that chose it).
PNG_FILTER = 16      # imagecodecs.PNG.FILTER.SUB
PNG_STRATEGY = 3     # imagecodecs.PNG.STRATEGY.RLE (zlib's Z_RLE)
#: zlib level of deflate-compressed TIFFs (tifffile's default is 6): on a grainy 16-bit 24 MP photo
#: level 1 took 3.0 s against 5.0 s, and was 2 % smaller (benchmarks/speed/bench_png16.py).
TIFF_DEFLATE_LEVEL = 1
#: The format and the JPEG and WebP quality of an export, the app's and ``clode batch``'s: the one
#: definition of each.
DEFAULT_FORMAT = "jpeg"
DEFAULT_QUALITY = 92
#: JPEG quality when a JPEG is written because the source was one (``clode enhance``'s default).
HIGH_QUALITY = 95

# IFD0 tags that describe the source file's own layout, not the photo: never carried to another file.
_STRUCTURAL_TAGS = {
    0x00FE, 0x00FF, 0x0100, 0x0101, 0x0102, 0x0103, 0x0106, 0x0107, 0x0108, 0x0109, 0x010A, 0x0111,
    0x0115, 0x0116, 0x0117, 0x0118, 0x0119, 0x011C, 0x0122, 0x0123, 0x0124, 0x0125, 0x013D, 0x013E,
    0x013F, 0x0140, 0x0142, 0x0143, 0x0144, 0x0145, 0x014A, 0x0152, 0x0153, 0x0154, 0x0155, 0x0156,
    0x0200, 0x0201, 0x0202, 0x0211, 0x0212, 0x0213, 0x0214, 0x02BC, 0x83BB, 0x8649, 0x8773, 0xC612,
    0xC613, 0xC614, 0x014C, 0x0157, 0x0158, 0x0159,
}
_TAG_ORIENTATION, _TAG_SOFTWARE, _TAG_DESCRIPTION, _TAG_DATETIME = 0x0112, 0x0131, 0x010E, 0x0132
_TAG_MAKE, _TAG_MODEL, _TAG_EXIF_IFD, _TAG_GPS_IFD = 0x010F, 0x0110, 0x8769, 0x8825
_TAG_DATETIME_ORIGINAL, _TAG_PIXEL_X, _TAG_PIXEL_Y, _TAG_MAKERNOTE = 0x9003, 0xA002, 0xA003, 0x927C


@dataclass
class ExportOptions:
    format: Optional[str] = None     # "jpeg" | "png" | "tiff" | "webp"; None -> from the target's extension
    quality: int = DEFAULT_QUALITY   # JPEG / WebP, 1-100
    subsampling: str = "4:2:0"       # JPEG chroma subsampling: "4:2:0", "4:2:2" or "4:4:4"
    bits: int = 8                    # 8 or 16 (PNG, TIFF; JPEG and WebP are always 8)
    compression: Optional[str] = "deflate"   # TIFF: "deflate", "lzw", "packbits" or None
    strip_metadata: bool = False     # write no EXIF, XMP or provenance (the ICC profile stays: it is colour)
    #: shrink (never enlarge) so the long side is at most this many pixels; None = full size
    long_edge: Optional[int] = None


def format_for(path: PathLike, options: Optional[ExportOptions] = None) -> str:
    """The output format: the options' if set, else the one the target's extension names."""
    if options is not None and options.format:
        fmt = options.format.lower()
        fmt = {"jpg": "jpeg", "tif": "tiff"}.get(fmt, fmt)
        if fmt not in FORMAT_EXTENSIONS:
            raise ImageWriteError(f"{path}: unknown output format {options.format!r} "
                                  f"(choose one of {', '.join(FORMAT_EXTENSIONS)})")
        return fmt
    by_extension = _EXTENSION_FORMATS.get(Path(path).suffix.lower())
    if by_extension is None:
        raise ImageWriteError(f"{path}: cannot tell the output format from the extension "
                              f"(use .jpg, .png, .tif or .webp)")
    return by_extension


def same_kind_format(source: PathLike) -> str:
    """The format that keeps a photo's own kind of file: JPEG for JPEG, PNG for PNG, TIFF for TIFF
    and camera RAW (written with 16 bits, see ``same_kind_options``), PNG for the rest."""
    if is_raw_path(source):
        return "tiff"
    fmt = _EXTENSION_FORMATS.get(Path(source).suffix.lower())
    return fmt if fmt in ("jpeg", "png", "tiff") else "png"


def same_kind_options(photo: Photo, fmt: str, quality: int = HIGH_QUALITY) -> ExportOptions:
    """Options for writing ``photo`` as ``fmt``: 16 bits where the format holds them and the source
    had more than 8 (a RAW, a 16-bit PNG or TIFF), else 8; ``quality`` for JPEG and WebP."""
    deep = fmt in DEEP and (photo.is_raw or photo.bit_depth > 8)
    return ExportOptions(format=fmt, quality=quality, bits=16 if deep else 8)


#: The most characters one provenance value (a model's name, say) puts in a file's metadata: a
#: JPEG's EXIF holds 64 kB in all, and a 100,000-character model name must not fail every photo.
MAX_PROVENANCE_CHARS = 200


def bounded_provenance(provenance: Optional[dict]) -> dict:
    """``provenance`` with each value cut to ``MAX_PROVENANCE_CHARS`` (both ends kept)."""
    def bound(value):
        if isinstance(value, (int, float, bool)) or value is None:
            return value
        text = str(value)
        half = MAX_PROVENANCE_CHARS // 2 - 2
        return text if len(text) <= MAX_PROVENANCE_CHARS else text[:half] + " ... " + text[-half:]
    return {str(k)[:MAX_PROVENANCE_CHARS]: bound(v) for k, v in (provenance or {}).items()}


def describe_provenance(provenance: Optional[dict]) -> str:
    """The one-line text a viewer shows as the image description."""
    parts = []
    for key, value in bounded_provenance(provenance).items():
        if isinstance(value, float):
            value = f"{value:.3g}"
        parts.append(f"{key}={value}")
    return f"Enhanced with {SOFTWARE}" + (f" ({', '.join(parts)})" if parts else "")


def pixel_dtype(path: PathLike, options: Optional[ExportOptions] = None) -> type:
    """The pixel type to render for ``path``: uint8 where the file holds 8 bits, else float32.

    An 8-bit render goes to the encoder as it is; quantising a float copy of a
    24 MP image first costs more than a second of the export (measured).
    """
    options = options or ExportOptions()
    fmt = format_for(path, options)
    if options.long_edge:
        return np.float32            # a smaller size is made from float data, then quantised once
    return np.uint8 if fmt in ("jpeg", "webp") or options.bits == 8 else np.float32


def save_image(path: PathLike, pixels: np.ndarray, *, source: Optional[Photo] = None,
               options: Optional[ExportOptions] = None, provenance: Optional[dict] = None,
               exclusive: bool = False, alternatives: Iterable[PathLike] = ()) -> Path:
    """Write H x W x 3 ``pixels`` (float32 in [0, 1], or uint8) to ``path``, atomically; metadata from ``source``.

    ``exclusive``: never replace an existing file (also one another process creates meanwhile);
    the file then gets the first free name of ``path`` and ``alternatives``, which is returned,
    or ``clode.base.atomic.TargetExists`` is raised when none is free.

    Raises ImageWriteError (one line naming the file) when the target is the source file itself,
    the format or options are invalid, or the file cannot be written."""
    path = Path(path)
    options = options or ExportOptions()
    fmt = format_for(path, options)
    _refuse_source(path, source)
    rgb = _check_pixels(path, pixels)
    if options.bits not in (8, 16):
        raise ImageWriteError(f"{path}: bits must be 8 or 16, not {options.bits}")
    if options.subsampling not in _SUBSAMPLING:
        raise ImageWriteError(f"{path}: unknown chroma subsampling {options.subsampling!r} "
                              f"(choose one of {', '.join(_SUBSAMPLING)})")
    if (options.compression or "none") not in _TIFF_COMPRESSION:
        raise ImageWriteError(f"{path}: unknown TIFF compression {options.compression!r}")
    if options.long_edge is not None:
        if isinstance(options.long_edge, bool) or not isinstance(options.long_edge, int) or options.long_edge < 1:
            raise ImageWriteError(f"{path}: the long edge must be a whole number of pixels, 1 or more, "
                                  f"not {options.long_edge!r}")
        rgb = fit_long_edge(rgb, options.long_edge)
    bits = options.bits if fmt in ("png", "tiff") else 8
    alpha = _alpha_for(source, rgb) if fmt in ("png", "tiff", "webp") else None
    meta = _Metadata(source, provenance, rgb.shape[:2], options.strip_metadata)
    try:
        with atomic_write(path, exclusive=exclusive, alternatives=alternatives) as write:
            tmp = write.tmp
            if fmt == "jpeg":
                _write_jpeg(tmp, rgb, meta, options)
            elif fmt == "webp":
                _write_webp(tmp, rgb, alpha, meta, options)
            elif fmt == "png":
                _write_png(tmp, rgb, alpha, meta, bits)
            else:
                _write_tiff(tmp, rgb, alpha, meta, bits, options)
    except (ImageWriteError, TargetExists):
        raise
    except OSError as e:
        reason = e.strerror or str(e) or type(e).__name__
        raise ImageWriteError(f"{path}: cannot write the file ({reason})") from None
    except (ValueError, MemoryError) as e:
        raise ImageWriteError(f"{path}: cannot encode the image ({e or type(e).__name__})") from None
    assert write.path is not None
    return write.path


def _refuse_source(path: Path, source: Optional[Photo]) -> None:
    if source is None or source.path is None:
        return
    src = Path(source.path)
    same = False
    try:
        same = path.exists() and src.exists() and os.path.samefile(path, src)
    except OSError:
        pass
    if same or os.path.normcase(path.resolve()) == os.path.normcase(src.resolve()):
        raise ImageWriteError(f"{path}: refusing to overwrite the original photo; choose another file name")


def _check_pixels(path: Path, pixels: np.ndarray) -> np.ndarray:
    a = np.asarray(pixels)
    if a.ndim != 3 or a.shape[2] != 3 or a.shape[0] < 1 or a.shape[1] < 1:
        raise ImageWriteError(f"{path}: expected an H x W x 3 image, got shape {a.shape}")
    if a.dtype == np.uint8:
        return a
    a = np.nan_to_num(a.astype(np.float32, copy=False), nan=0.0, posinf=1.0, neginf=0.0)
    return np.clip(a, 0.0, 1.0)


def _alpha_for(source: Optional[Photo], rgb: np.ndarray) -> Optional[np.ndarray]:
    if source is None or source.alpha is None:
        return None
    alpha = source.alpha
    h, w = rgb.shape[:2]
    if alpha.shape != (h, w):
        alpha = resize(alpha.astype(np.float32), (h, w))   # e.g. the source was a preview
    return np.clip(alpha, 0.0, 1.0)


# ----------------------------------------------------------------------------------------------
# Metadata

class _Metadata:
    """What goes into the file besides the pixels, in each container's own form."""

    def __init__(self, source: Optional[Photo], provenance: Optional[dict], size: tuple[int, int],
                 strip: bool):
        self.strip = strip
        self.software = SOFTWARE
        self.description = describe_provenance(provenance)
        self.provenance = bounded_provenance(provenance)
        self.make = source.make if source else None
        self.model = source.model if source else None
        self.capture_time = source.capture_time if source else None
        self.now = _dt.datetime.now().strftime("%Y:%m:%d %H:%M:%S")
        self.icc: Optional[bytes]
        if source is not None and source.icc_profile:
            self.icc = source.icc_profile
        elif source is not None and source.is_raw:
            self.icc = srgb_profile()
        else:
            self.icc = None
        self.exif = None if strip else self._build_exif(source, size)
        # The photo's stars and colour label travel with it, as Lightroom and darktable export them.
        self.culling = None
        if not strip and source is not None and source.path is not None:
            from clode.io.marks import load as load_culling
            self.culling = load_culling(source.path)

    def _build_exif(self, source: Optional[Photo], size: tuple[int, int]) -> Image.Exif:
        exif = Image.Exif()
        if source is not None and source.exif:
            try:
                exif.load(source.exif)
                sub = exif.get_ifd(_TAG_EXIF_IFD)     # read the sub-IFDs now, while offsets are valid
                exif.get_ifd(_TAG_GPS_IFD)
                if 0xA005 in sub:
                    del sub[0xA005]                   # interop IFD pointer: not rewritten by Pillow
            except Exception:
                exif = Image.Exif()
        for tag in list(exif):
            if tag in _STRUCTURAL_TAGS:
                del exif[tag]
        exif[_TAG_ORIENTATION] = 1
        exif[_TAG_SOFTWARE] = self.software
        exif[_TAG_DESCRIPTION] = self.description
        exif[_TAG_DATETIME] = self.now
        if self.make and _TAG_MAKE not in exif:
            exif[_TAG_MAKE] = self.make
        if self.model and _TAG_MODEL not in exif:
            exif[_TAG_MODEL] = self.model
        sub = exif.get_ifd(_TAG_EXIF_IFD)
        if self.capture_time and _TAG_DATETIME_ORIGINAL not in sub:
            sub[_TAG_DATETIME_ORIGINAL] = self.capture_time
        if _TAG_PIXEL_X in sub or _TAG_PIXEL_Y in sub:
            sub[_TAG_PIXEL_X], sub[_TAG_PIXEL_Y] = size[1], size[0]
        return exif

    def exif_bytes(self, limit: Optional[int] = None) -> Optional[bytes]:
        """The EXIF block; within ``limit`` bytes if given (a JPEG segment holds 64 KB), dropping the
        maker note, then everything but the essentials, to fit."""
        if self.exif is None:
            return None
        data = self._tobytes(self.exif)
        if limit is None or data is None or len(data) <= limit:
            return data
        sub = self.exif.get_ifd(_TAG_EXIF_IFD)
        sub.pop(_TAG_MAKERNOTE, None)
        data = self._tobytes(self.exif)
        if data is not None and len(data) <= limit:
            return data
        slim = Image.Exif()
        for tag in (_TAG_ORIENTATION, _TAG_SOFTWARE, _TAG_DESCRIPTION, _TAG_DATETIME, _TAG_MAKE, _TAG_MODEL):
            if tag in self.exif:
                slim[tag] = self.exif[tag]
        if self.capture_time:
            slim.get_ifd(_TAG_EXIF_IFD)[_TAG_DATETIME_ORIGINAL] = self.capture_time
        return self._tobytes(slim)

    @staticmethod
    def _tobytes(exif: Image.Exif) -> Optional[bytes]:
        try:
            return exif.tobytes()
        except Exception:
            # a source tag Pillow cannot serialise: keep what can be, tag by tag
            clean = Image.Exif()
            for tag, value in exif.items():
                try:
                    probe = Image.Exif()
                    probe[tag] = value
                    probe.tobytes()
                    clean[tag] = value
                except Exception:
                    pass
            try:
                return clean.tobytes()
            except Exception:
                return None

    def xmp(self) -> Optional[bytes]:
        if self.strip:
            return None
        fields = [f"<xmp:CreatorTool>{escape(self.software)}</xmp:CreatorTool>",
                  f"<xmp:ModifyDate>{_xmp_date(self.now)}</xmp:ModifyDate>",
                  "<dc:description><rdf:Alt><rdf:li xml:lang=\"x-default\">"
                  f"{escape(self.description)}</rdf:li></rdf:Alt></dc:description>"]
        if self.make:
            fields.append(f"<tiff:Make>{escape(self.make)}</tiff:Make>")
        if self.model:
            fields.append(f"<tiff:Model>{escape(self.model)}</tiff:Model>")
        if self.capture_time:
            fields.append(f"<exif:DateTimeOriginal>{_xmp_date(self.capture_time)}</exif:DateTimeOriginal>")
        if self.culling is not None and not self.culling.is_default:
            from clode.io.xmp import LABEL_NAMES
            c = self.culling
            fields.append(f"<xmp:Rating>{-1 if c.flag == 'reject' else c.rating}</xmp:Rating>")
            if c.label is not None:
                fields.append(f"<xmp:Label>{LABEL_NAMES[c.label]}</xmp:Label>")
        for key, value in self.provenance.items():
            name = "".join(ch for ch in str(key) if ch.isalnum()) or "value"
            fields.append(f"<clode:{name}>{escape(str(value))}</clode:{name}>")
        body = "\n    ".join(fields)
        packet = (
            '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
            '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
            ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
            '  <rdf:Description rdf:about=""\n'
            '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
            '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
            '    xmlns:tiff="http://ns.adobe.com/tiff/1.0/"\n'
            '    xmlns:exif="http://ns.adobe.com/exif/1.0/"\n'
            '    xmlns:clode="https://github.com/clode-desktop/ns/1.0/">\n'
            f"    {body}\n"
            "  </rdf:Description>\n"
            " </rdf:RDF>\n"
            "</x:xmpmeta>\n"
            '<?xpacket end="w"?>'
        )
        return packet.encode("utf-8")


def _xmp_date(exif_date: str) -> str:
    """EXIF "YYYY:MM:DD HH:MM:SS" -> XMP "YYYY-MM-DDTHH:MM:SS"."""
    date, _, time = exif_date.partition(" ")
    return date.replace(":", "-") + (f"T{time}" if time else "")


# ----------------------------------------------------------------------------------------------
# Writers

def _pil_image(rgb8: np.ndarray, alpha8: Optional[np.ndarray]) -> Image.Image:
    if alpha8 is not None:
        return Image.fromarray(np.dstack([rgb8, alpha8]), "RGBA")
    return Image.fromarray(rgb8, "RGB")


def _write_jpeg(tmp: Path, rgb: np.ndarray, meta: _Metadata, options: ExportOptions) -> None:
    kwargs: dict[str, object] = dict(quality=int(min(100, max(1, options.quality))),
                                     subsampling=_SUBSAMPLING[options.subsampling])
    exif = meta.exif_bytes(limit=65000)
    if exif:
        kwargs["exif"] = exif
    if meta.icc:
        kwargs["icc_profile"] = meta.icc
    xmp = meta.xmp()
    if xmp and len(xmp) < 65000:
        kwargs["xmp"] = xmp
    _pil_image(quantize(rgb, 8), None).save(tmp, format="JPEG", **kwargs)


def _write_webp(tmp: Path, rgb: np.ndarray, alpha: Optional[np.ndarray], meta: _Metadata,
                options: ExportOptions) -> None:
    kwargs: dict[str, object] = dict(quality=int(min(100, max(1, options.quality))), method=4)
    exif = meta.exif_bytes()
    if exif:
        kwargs["exif"] = exif
    if meta.icc:
        kwargs["icc_profile"] = meta.icc
    xmp = meta.xmp()
    if xmp:
        kwargs["xmp"] = xmp
    a8 = quantize(alpha, 8) if alpha is not None else None
    _pil_image(quantize(rgb, 8), a8).save(tmp, format="WEBP", **kwargs)


def _png_text(meta: _Metadata) -> list[tuple[str, str]]:
    if meta.strip:
        return []
    text = [("Software", meta.software), ("Description", meta.description),
            ("Creation Time", meta.capture_time or meta.now)]
    if meta.make or meta.model:
        text.append(("Source", " ".join(x for x in (meta.make, meta.model) if x)))
    return text


def _write_png(tmp: Path, rgb: np.ndarray, alpha: Optional[np.ndarray], meta: _Metadata, bits: int) -> None:
    a = quantize(rgb, bits)
    if alpha is not None:
        a = np.dstack([a, quantize(alpha, bits)])
    chunks = []
    if meta.icc:
        chunks.append((b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(meta.icc)))
    for key, value in _png_text(meta):
        chunks.append((b"iTXt", _itxt(key, value)))
    xmp = meta.xmp()
    if xmp:
        chunks.append((b"iTXt", _itxt("XML:com.adobe.xmp", xmp.decode("utf-8"))))
    exif = meta.exif_bytes()
    if exif:
        chunks.append((b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif))
    with open(tmp, "wb") as f:
        write_png(f, a, chunks)


def _itxt(key: str, value: str) -> bytes:
    return key.encode("latin-1") + b"\x00\x00\x00\x00\x00" + value.encode("utf-8")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png(f, a: np.ndarray, chunks=()) -> None:
    """An 8- or 16-bit RGB or RGBA PNG from an H x W x 3|4 uint8 or uint16 array, by libpng
    (imagecodecs) with ``PNG_LEVEL``, ``PNG_FILTER`` and ``PNG_STRATEGY``; ``chunks`` ((type, data)
    pairs: metadata) go right after the header."""
    import imagecodecs

    # libpng takes rows as they lie in memory: imagecodecs refuses any other layout ("invalid data
    # shape, strides"), such as the exact path's channels-first tensor seen as H x W x 3, whose
    # copy is skipped for thin images (2 x 3000, 5000 x 1), or a size-1 axis with an odd stride.
    a = np.ascontiguousarray(a)
    if a.strides != tuple(int(np.prod(a.shape[i + 1:])) * a.itemsize for i in range(a.ndim)):
        a = a.copy(order="C")
    png = memoryview(imagecodecs.png_encode(a, level=PNG_LEVEL, filter=PNG_FILTER, strategy=PNG_STRATEGY))
    header = 8 + 8 + 13 + 4                  # signature, then IHDR: length and type, 13 bytes, CRC
    if bytes(png[12:16]) != b"IHDR":
        raise ValueError("the PNG encoder wrote no header first")
    f.write(png[:header])
    for kind, data in chunks:
        f.write(_png_chunk(kind, data))
    f.write(png[header:])


def _write_tiff(tmp: Path, rgb: np.ndarray, alpha: Optional[np.ndarray], meta: _Metadata, bits: int,
                options: ExportOptions) -> None:
    import tifffile

    a = quantize(rgb, bits)
    extrasamples = None
    if alpha is not None:
        a = np.dstack([a, quantize(alpha, bits)])
        extrasamples = ("unassalpha",)
    # tifffile's (code, dtype, count, value, write once) tags: the orientation, then the metadata
    extratags: list[tuple[int, str, int, Union[int, bytes], bool]] = [(0x0112, "H", 1, 1, True)]
    if not meta.strip:
        if meta.make:
            extratags.append((_TAG_MAKE, "s", 0, _ascii(meta.make), True))
        if meta.model:
            extratags.append((_TAG_MODEL, "s", 0, _ascii(meta.model), True))
        xmp = meta.xmp()
        if xmp:
            extratags.append((700, "B", len(xmp), xmp, True))
    compression = _TIFF_COMPRESSION[options.compression or "none"]
    if compression == "lzw":
        try:
            import imagecodecs  # noqa: F401  (tifffile's LZW encoder lives there)
        except ImportError:
            compression = "zlib"
    tifffile.imwrite(
        tmp, a, photometric="rgb", planarconfig="contig", extrasamples=extrasamples,
        compression=compression, predictor=True if compression == "zlib" else None,
        compressionargs={"level": TIFF_DEFLATE_LEVEL} if compression == "zlib" else None,
        software=False if meta.strip else _ascii(meta.software),
        description=None if meta.strip else _ascii(meta.description),
        datetime=None if meta.strip else meta.now,
        iccprofile=meta.icc, metadata=None, extratags=extratags,
    )
    if meta.exif is not None:
        _append_exif_ifd(tmp, meta.exif)


def _ascii(text: str) -> bytes:
    """TIFF ASCII fields hold 7-bit text (the XMP packet carries the exact Unicode)."""
    return text.encode("ascii", "replace")


def _append_exif_ifd(tmp: Path, exif: Image.Exif) -> None:
    """Give a TIFF written by tifffile the EXIF and GPS sub-IFDs (tifffile writes neither): append
    them, and a copy of IFD0 with the two pointer tags added, at the end of the file."""
    from PIL import TiffImagePlugin

    subs = {}
    for tag in (_TAG_EXIF_IFD, _TAG_GPS_IFD):
        entries = {k: v for k, v in exif.get_ifd(tag).items() if k != _TAG_MAKERNOTE}
        if entries:
            subs[tag] = entries
    if not subs:
        return
    with open(tmp, "r+b") as f:
        head = f.read(8)
        if head[:4] != b"II*\x00":
            return
        ifd0_offset = struct.unpack("<I", head[4:8])[0]
        f.seek(ifd0_offset)
        n = struct.unpack("<H", f.read(2))[0]
        raw_entries = [f.read(12) for _ in range(n)]
        next_ifd = f.read(4)
        pointers = []
        for tag, entries in subs.items():
            f.seek(0, io.SEEK_END)
            offset = f.tell() + (f.tell() % 2)        # IFDs start on a word boundary
            f.write(b"\x00" * (offset - f.tell()))
            ifd = TiffImagePlugin.ImageFileDirectory_v2(b"II*\x00\x00\x00\x00\x00")
            for k, v in entries.items():
                ifd[k] = v
            f.write(ifd.tobytes(offset))
            pointers.append(struct.pack("<HHII", tag, 4, 1, offset))
        f.seek(0, io.SEEK_END)
        new_ifd0 = f.tell() + (f.tell() % 2)
        f.write(b"\x00" * (new_ifd0 - f.tell()))
        keep = [e for e in raw_entries if struct.unpack("<H", e[:2])[0] not in subs]
        ifd0 = sorted(keep + pointers, key=lambda e: struct.unpack("<H", e[:2])[0])
        f.write(struct.pack("<H", len(ifd0)) + b"".join(ifd0) + next_ifd)
        f.seek(4)
        f.write(struct.pack("<I", new_ifd0))
