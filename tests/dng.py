"""Make Bayer DNG files from known images, for tests (no camera files need to be shipped).

``make_dng(path, rgb)`` mosaics an sRGB float image through a colour filter array and writes it with
pidng as a DNG whose camera space is linear sRGB (ColorMatrix1 = XYZ -> linear sRGB, D65, neutral
white balance), so a correct decoder gives back the source colours up to demosaicing error.
Settings that work with pidng 4.0.9 here: uncompressed (its LJ92 path fails on Python 3.11),
8/10/12/16 bits (14 raises inside pidng).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

import numpy as np

from clode.training.raw_pairs import PATTERNS, mosaic  # noqa: F401 (the one mosaic; tests import it from here)


# XYZ (D65) -> linear sRGB (IEC 61966-2-1)
XYZ_TO_SRGB = np.array([[3.2406, -1.5372, -0.4986],
                        [-0.9689, 1.8758, 0.0415],
                        [0.0557, -0.2040, 1.0570]])


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.clip(np.asarray(x, dtype=np.float64), 0, 1)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * x ** (1 / 2.4) - 0.055)


def dng_bytes(rgb: np.ndarray, pattern: str = "RGGB", bits: int = 16, *, make: str = "CLODE",
              model: str = "Test Camera", capture_time: Optional[str] = None, orientation: int = 1,
              thumbnail: Optional[np.ndarray] = None) -> bytes:
    rgb = np.asarray(rgb, dtype=np.float64)
    h, w = rgb.shape[:2]
    if h % 2 or w % 2:
        raise ValueError("a Bayer mosaic needs even width and height")
    if pattern not in PATTERNS:
        raise ValueError(f"pattern must be one of {', '.join(PATTERNS)}")
    white = (1 << bits) - 1
    black = 1 << max(0, bits - 6)    # a realistic pedestal (64 at 12 bits), so black subtraction is tested
    linear = srgb_to_linear(np.clip(rgb, 0, 1))
    cfa = np.rint(black + mosaic(linear, pattern) * (white - black)).astype(np.uint16)
    return cfa_dng_bytes(cfa, pattern, bits, black=black, white=white, make=make, model=model,
                         capture_time=capture_time, orientation=orientation, thumbnail=thumbnail)


def cfa_dng_bytes(cfa: np.ndarray, pattern: str = "RGGB", bits: int = 16, *, black: int = 0,
                  white: Optional[int] = None, make: str = "CLODE", model: str = "Test Camera",
                  capture_time: Optional[str] = None, orientation: int = 1,
                  thumbnail: Optional[np.ndarray] = None) -> bytes:
    """A DNG of the mosaic ``cfa`` (H x W uint16 DN, even H and W) with the given black and white
    levels (white defaults to the bit depth's top; a 14-bit sensor's data goes in 16-bit samples with
    ``white`` = 16383, as RAW converters store it) and linear sRGB as the camera's colour space."""
    from pidng.core import RAW2DNG
    from pidng.defs import CalibrationIlluminant, DNGVersion, PhotometricInterpretation
    from pidng.dng import DNGTags, Tag

    cfa = np.ascontiguousarray(cfa, dtype=np.uint16)
    h, w = cfa.shape
    if h % 2 or w % 2:
        raise ValueError("a Bayer mosaic needs even width and height")
    if pattern not in PATTERNS:
        raise ValueError(f"pattern must be one of {', '.join(PATTERNS)}")
    white = (1 << bits) - 1 if white is None else int(white)
    t = DNGTags()
    t.set(Tag.ImageWidth, w)
    t.set(Tag.ImageLength, h)
    t.set(Tag.TileWidth, w)
    t.set(Tag.TileLength, h)
    t.set(Tag.Orientation, orientation)
    t.set(Tag.PhotometricInterpretation, PhotometricInterpretation.Color_Filter_Array)
    t.set(Tag.SamplesPerPixel, 1)
    t.set(Tag.BitsPerSample, bits)
    t.set(Tag.CFARepeatPatternDim, [2, 2])
    t.set(Tag.CFAPattern, PATTERNS[pattern])
    t.set(Tag.BlackLevel, int(black))
    t.set(Tag.WhiteLevel, white)
    t.set(Tag.ColorMatrix1, [[int(round(v * 10000)), 10000] for v in XYZ_TO_SRGB.ravel()])
    t.set(Tag.CalibrationIlluminant1, CalibrationIlluminant.D65)
    t.set(Tag.AsShotNeutral, [[1, 1], [1, 1], [1, 1]])
    t.set(Tag.Make, make)
    t.set(Tag.Model, model)
    t.set(Tag.UniqueCameraModel, f"{make} {model}")
    if capture_time:
        t.set(Tag.DateTimeOriginal, capture_time)
    t.set(Tag.DNGVersion, DNGVersion.V1_4)
    t.set(Tag.DNGBackwardVersion, DNGVersion.V1_2)
    t.set(Tag.PreviewColorSpace, 2)

    converter = RAW2DNG()
    converter.options(t, path="", compress=False)
    data = bytes(converter.convert(cfa, filename=""))
    if thumbnail is not None:
        data = _with_jpeg_thumbnail(data, thumbnail)
    return data


def _with_jpeg_thumbnail(dng: bytes, rgb: np.ndarray) -> bytes:
    """Append a JPEG preview the way cameras embed one: a second IFD (NewSubfileType 1, JPEG
    compressed), chained after IFD0, at the end of the file."""
    import io
    import struct

    from PIL import Image

    img = Image.fromarray(np.clip(np.rint(np.asarray(rgb) * 255), 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    jpeg = buf.getvalue()
    assert dng[:4] == b"II*\x00"
    ifd0 = struct.unpack("<I", dng[4:8])[0]
    n = struct.unpack("<H", dng[ifd0:ifd0 + 2])[0]
    next_pointer = ifd0 + 2 + 12 * n
    out = bytearray(dng)
    out += b"\x00" * (len(out) % 2)
    jpeg_at = len(out)
    out += jpeg + b"\x00" * (len(jpeg) % 2)
    bps_at = len(out)
    out += struct.pack("<3H", 8, 8, 8) + b"\x00\x00"
    ifd1 = len(out)
    w, h = img.size
    entries = [(254, 4, 1, 1), (256, 4, 1, w), (257, 4, 1, h), (258, 3, 3, bps_at), (259, 3, 1, 7),
               (262, 3, 1, 6), (273, 4, 1, jpeg_at), (277, 3, 1, 3), (278, 4, 1, h), (279, 4, 1, len(jpeg))]
    out += struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        out += struct.pack("<HHI", tag, kind, count) + (struct.pack("<HH", value, 0) if kind == 3 and count == 1
                                                       else struct.pack("<I", value))
    out += struct.pack("<I", 0)
    out[next_pointer:next_pointer + 4] = struct.pack("<I", ifd1)
    return bytes(out)


def make_dng(path: Union[str, Path], rgb_float_image: np.ndarray, pattern: str = "RGGB", bits: int = 16,
             **kwargs) -> Path:
    """Write ``rgb_float_image`` (H x W x 3 sRGB in [0, 1], even H and W) as a Bayer DNG at ``path``.
    Keyword options: make, model, capture_time ("YYYY:MM:DD HH:MM:SS"), orientation (EXIF 1-8),
    thumbnail (an sRGB float image embedded as the camera's JPEG preview, stored unrotated)."""
    path = Path(path)
    path.write_bytes(dng_bytes(rgb_float_image, pattern, bits, **kwargs))
    return path
