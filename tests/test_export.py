"""Writing results: formats and bit depths, metadata carried over (EXIF, ICC, provenance), options,
atomic writes, and the source never overwritten."""

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, JpegImagePlugin

from clode import __version__
from clode.base.errors import ImageWriteError
from clode.io.export import FORMAT_EXTENSIONS, ExportOptions, pixel_dtype, save_image
from clode.io.imageio import Photo, load_image
from dng import make_dng

SOFTWARE = f"CLODE Desktop {__version__}"
PROVENANCE = {"T": 3.0, "model": "default"}


@pytest.fixture
def pixels():
    y, x = np.mgrid[0:48, 0:64].astype(np.float32)
    return np.stack([x / 63, y / 47, (x + y) / 110], axis=2).astype(np.float32)


@pytest.fixture
def camera_jpeg(tmp_path, pixels):
    """A camera JPEG: make, model, capture time, exposure, orientation 6 (stored sideways), an ICC profile."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Canon", "EOS R6", 6
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = "2024:01:02 03:04:05"
    sub[0x829A] = 1 / 30      # ExposureTime
    sub[0x8827] = 6400        # ISO
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (52.0, 30.0, 0.0)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    stored = Image.fromarray((pixels * 255).astype(np.uint8)).transpose(Image.Transpose.ROTATE_90)
    path = tmp_path / "IMG_0001.JPG"
    stored.save(path, quality=95, exif=exif.tobytes(), icc_profile=icc)
    return path, icc


def exif_of(path):
    with Image.open(path) as im:
        exif = im.getexif()
        exif.get_ifd(0x8825)    # TIFF sub-IFDs are read lazily: read them while the file is open
        return exif, exif.get_ifd(0x8769)


def test_jpeg_keeps_camera_metadata_and_shows_provenance(tmp_path, camera_jpeg, pixels):
    src_path, icc = camera_jpeg
    source = load_image(src_path)
    assert source.pixels.shape == pixels.shape   # upright
    out = save_image(tmp_path / "out" / "IMG_0001.jpg", source.pixels, source=source, provenance=PROVENANCE)
    assert out == tmp_path / "out" / "IMG_0001.jpg" and out.is_file()
    exif, sub = exif_of(out)
    assert exif[0x010F] == "Canon" and exif[0x0110] == "EOS R6"
    assert sub[0x9003] == "2024:01:02 03:04:05" and sub[0x8827] == 6400
    assert exif[0x0112] == 1                     # pixels are upright now
    assert exif[0x0131] == SOFTWARE
    assert "T=3" in exif[0x010E] and "model=default" in exif[0x010E] and SOFTWARE in exif[0x010E]
    with Image.open(out) as im:
        assert im.info.get("icc_profile") == icc
        assert SOFTWARE.encode() in im.info.get("xmp", b"")
        assert im.size == (64, 48)
    back = load_image(out)
    assert (back.make, back.model, back.capture_time) == ("Canon", "EOS R6", "2024:01:02 03:04:05")
    assert np.abs(back.pixels - pixels).mean() < 0.02


@pytest.mark.parametrize("ext,bits", [(".png", 8), (".png", 16), (".tif", 8), (".tif", 16), (".webp", 8)])
def test_other_formats_keep_metadata(tmp_path, camera_jpeg, ext, bits):
    src_path, icc = camera_jpeg
    source = load_image(src_path)
    out = save_image(tmp_path / f"out{ext}", source.pixels, source=source,
                     options=ExportOptions(bits=bits), provenance=PROVENANCE)
    back = load_image(out)
    assert back.bit_depth == bits and back.icc_profile == icc
    assert (back.make, back.model, back.capture_time) == ("Canon", "EOS R6", "2024:01:02 03:04:05")
    exif, _ = exif_of(out)
    assert exif.get(0x0131) == SOFTWARE and "T=3" in exif.get(0x010E) and exif.get(0x0112, 1) == 1
    assert exif.get_ifd(0x8825) == {1: "N", 2: (52.0, 30.0, 0.0)}    # GPS position kept
    with Image.open(out) as im:
        if ext == ".png":   # text chunks every viewer lists
            assert im.info["Software"] == SOFTWARE and "T=3" in im.info["Description"]
        if ext == ".tif":
            assert im.tag_v2[305] == SOFTWARE and "T=3" in im.tag_v2[270]
            assert SOFTWARE.encode() in bytes(im.tag_v2[700])   # XMP


def test_raw_source_gets_srgb_profile_and_camera_fields(tmp_path):
    rgb = np.random.default_rng(0).uniform(0.1, 0.9, (32, 48, 3)).astype(np.float32)
    src = make_dng(tmp_path / "night.dng", rgb, make="Kodak", model="C330", capture_time="2022:12:31 23:59:58")
    source = load_image(src)
    out = save_image(tmp_path / "night.jpg", source.pixels, source=source, provenance=PROVENANCE)
    exif, sub = exif_of(out)
    assert (exif[0x010F], exif[0x0110], sub[0x9003]) == ("Kodak", "C330", "2022:12:31 23:59:58")
    with Image.open(out) as im:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(im.info["icc_profile"]))
    assert "sRGB" in ImageCms.getProfileDescription(profile)


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_16bit_round_trip_keeps_more_than_8_bits(tmp_path, ext):
    ramp = np.linspace(0, 1, 4096, dtype=np.float32).reshape(32, 128)
    pixels = np.stack([ramp, ramp[::-1], ramp ** 2], axis=2)
    out = save_image(tmp_path / f"ramp{ext}", pixels, options=ExportOptions(bits=16))
    back = load_image(out)
    assert back.bit_depth == 16
    err = np.abs(back.pixels - pixels).max()
    assert err <= 0.5 / 65535 + 1e-7          # 16-bit quantisation, nothing more
    assert err < 1 / 512                      # i.e. better than 8 bits
    assert len(np.unique(back.pixels[..., 0])) > 256
    eight = load_image(save_image(tmp_path / f"ramp8{ext}", pixels))
    assert eight.bit_depth == 8 and len(np.unique(eight.pixels[..., 0])) <= 256


def test_16bit_source_exports_16bit_precision(tmp_path):
    """A 16-bit RAW development exported to 16-bit TIFF keeps its 16-bit values."""
    rgb = np.random.default_rng(1).uniform(0.0, 1.0, (32, 48, 3)).astype(np.float32)
    source = load_image(make_dng(tmp_path / "s.dng", rgb))
    back = load_image(save_image(tmp_path / "s.tif", source.pixels, source=source, options=ExportOptions(bits=16)))
    assert np.abs(back.pixels - source.pixels).max() <= 0.5 / 65535 + 1e-7


def test_alpha_is_reattached(tmp_path, pixels):
    alpha = np.tile(np.linspace(0, 255, 64).astype(np.uint8), (48, 1))
    Image.fromarray(np.dstack([(pixels * 255).astype(np.uint8), alpha]), "RGBA").save(tmp_path / "a.png")
    source = load_image(tmp_path / "a.png")
    for ext, bits in [(".png", 8), (".png", 16), (".tif", 8), (".tif", 16), (".webp", 8)]:
        out = save_image(tmp_path / f"o{bits}{ext}", source.pixels, source=source, options=ExportOptions(bits=bits))
        back = load_image(out)
        assert back.alpha is not None, ext
        assert np.abs(back.alpha - alpha / 255.0).max() < (0.02 if ext == ".webp" else 1e-3), ext
    jpg = load_image(save_image(tmp_path / "o.jpg", source.pixels, source=source))
    assert jpg.alpha is None


def test_strip_metadata(tmp_path, camera_jpeg):
    source = load_image(camera_jpeg[0])
    for ext in (".jpg", ".png", ".tif", ".webp"):
        out = save_image(tmp_path / f"s{ext}", source.pixels, source=source, provenance=PROVENANCE,
                         options=ExportOptions(strip_metadata=True))
        exif, sub = exif_of(out)
        assert 0x010F not in exif and 0x0110 not in exif and 0x9003 not in sub, ext
        assert not exif.get_ifd(0x8825), ext    # no GPS position
        assert 0x0131 not in exif and 0x010E not in exif, ext
        with Image.open(out) as im:
            assert "xmp" not in im.info and "Software" not in im.info, ext


def test_jpeg_quality_and_subsampling(tmp_path, camera_jpeg):
    source = load_image(camera_jpeg[0])
    noisy = np.clip(source.pixels + np.random.default_rng(0).normal(0, 0.05, source.pixels.shape), 0, 1)
    lo = save_image(tmp_path / "q50.jpg", noisy, options=ExportOptions(quality=50))
    hi = save_image(tmp_path / "q98.jpg", noisy, options=ExportOptions(quality=98))
    assert lo.stat().st_size < hi.stat().st_size
    for name, code in [("4:2:0", 2), ("4:4:4", 0), ("4:2:2", 1)]:
        out = save_image(tmp_path / f"s{name.replace(':', '')}.jpg", noisy, options=ExportOptions(subsampling=name))
        with Image.open(out) as im:
            assert JpegImagePlugin.get_sampling(im) == code


def test_tiff_compression(tmp_path, pixels):
    smooth = np.repeat(np.repeat(pixels, 4, axis=0), 4, axis=1)
    plain = save_image(tmp_path / "plain.tif", smooth, options=ExportOptions(compression=None, bits=16))
    packed = save_image(tmp_path / "deflate.tif", smooth, options=ExportOptions(bits=16))
    assert packed.stat().st_size < plain.stat().st_size / 2
    assert np.array_equal(load_image(plain).pixels, load_image(packed).pixels)
    with Image.open(packed) as im:
        assert im.tag_v2[259] in (8, 32946)   # Adobe deflate


def test_format_from_options_and_extension(tmp_path, pixels):
    assert FORMAT_EXTENSIONS == {"jpeg": ".jpg", "png": ".png", "tiff": ".tif", "webp": ".webp"}
    out = save_image(tmp_path / "x.bin", pixels, options=ExportOptions(format="png"))
    with Image.open(out) as im:
        assert im.format == "PNG"
    for ext, fmt in [(".JPEG", "JPEG"), (".TIFF", "TIFF"), (".webp", "WEBP")]:
        with Image.open(save_image(tmp_path / f"y{ext}", pixels)) as im:
            assert im.format == fmt
    with pytest.raises(ImageWriteError, match="x.gif"):
        save_image(tmp_path / "x.gif", pixels)
    with pytest.raises(ImageWriteError, match="format"):
        save_image(tmp_path / "x.png", pixels, options=ExportOptions(format="heic"))
    with pytest.raises(ImageWriteError, match="bits"):
        save_image(tmp_path / "x.png", pixels, options=ExportOptions(bits=12))
    with pytest.raises(ImageWriteError, match="subsampling"):
        save_image(tmp_path / "x.jpg", pixels, options=ExportOptions(subsampling="4:1:1"))
    with pytest.raises(ImageWriteError, match="H x W x 3"):
        save_image(tmp_path / "x.png", pixels[..., 0])
    assert not (tmp_path / "x.gif").exists() and not (tmp_path / "x.png").exists()


def test_out_of_range_pixels_are_clipped(tmp_path, pixels):
    wild = pixels * 3 - 1
    wild[0, 0] = np.nan
    back = load_image(save_image(tmp_path / "w.png", wild))
    assert back.pixels.min() >= 0 and back.pixels.max() <= 1 and back.pixels[0, 0].tolist() == [0, 0, 0]


def test_8bit_pixels_go_to_the_encoder_unchanged(tmp_path, pixels):
    """Exports render straight to uint8 where the file holds 8 bits; the file is the same as from floats."""
    assert pixel_dtype("a.jpg") is np.uint8 and pixel_dtype("a.webp") is np.uint8
    assert pixel_dtype("a.png") is np.uint8 and pixel_dtype("a.tif", ExportOptions(bits=8)) is np.uint8
    assert pixel_dtype("a.png", ExportOptions(bits=16)) is np.float32
    assert pixel_dtype("a.jpg", ExportOptions(bits=16)) is np.uint8      # JPEG is 8-bit whatever is asked
    rgb8 = np.rint(pixels * 255).astype(np.uint8)
    for name in ("a.png", "a.tif"):
        from_floats = load_image(save_image(tmp_path / f"f_{name}", pixels)).pixels
        from_bytes = load_image(save_image(tmp_path / f"b_{name}", rgb8)).pixels
        assert np.array_equal(from_floats, from_bytes)
        assert np.array_equal(np.rint(from_bytes * 255).astype(np.uint8), rgb8)
    wide = load_image(save_image(tmp_path / "w.png", rgb8, options=ExportOptions(bits=16))).pixels
    assert np.allclose(wide, rgb8 / 255.0, atol=1e-6)      # 8 bits widened exactly (x 257)


def test_never_overwrites_the_source(tmp_path, camera_jpeg):
    src_path, _ = camera_jpeg
    before = src_path.read_bytes()
    source = load_image(src_path)
    for target in [src_path, tmp_path / "sub" / ".." / src_path.name, str(src_path)]:
        (tmp_path / "sub").mkdir(exist_ok=True)
        with pytest.raises(ImageWriteError, match="original"):
            save_image(target, source.pixels, source=source)
    link = tmp_path / "link.jpg"
    os.symlink(src_path, link)
    with pytest.raises(ImageWriteError, match="original"):
        save_image(link, source.pixels, source=source)
    hard = tmp_path / "hard.JPG"
    os.link(src_path, hard)
    with pytest.raises(ImageWriteError, match="original"):
        save_image(hard, source.pixels, source=source)
    assert src_path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["IMG_0001.JPG", "hard.JPG", "link.jpg", "sub"]


def test_writes_are_atomic(tmp_path, pixels):
    target = tmp_path / "out.png"
    target.write_bytes(b"previous version")
    save_image(target, pixels)
    assert load_image(target).pixels.shape == pixels.shape
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]        # no temporary file left
    # a failing write leaves the previous file as it was, and nothing else
    blocker = tmp_path / "not_a_folder"
    blocker.write_bytes(b"")
    with pytest.raises(ImageWriteError, match="not_a_folder"):
        save_image(blocker / "x.png", pixels)
    target.write_bytes(b"previous version")
    with pytest.raises(ImageWriteError):
        save_image(target, np.full((1, 1, 3), 0.5, np.float32)[:, :0])   # empty image: nothing to encode
    assert target.read_bytes() == b"previous version"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not_a_folder", "out.png"]


def test_same_kind_of_file_by_default():
    """clode enhance's default output: the source's own kind, RAW as 16-bit TIFF, anything else PNG."""
    from clode.io.export import HIGH_QUALITY, same_kind_format, same_kind_options
    kinds = {"a.jpg": "jpeg", "b.JPEG": "jpeg", "c.png": "png", "d.tif": "tiff", "e.TIFF": "tiff",
             "f.CR2": "tiff", "g.dng": "tiff", "h.webp": "png", "i.bmp": "png"}
    assert {name: same_kind_format(name) for name in kinds} == kinds
    pixels = np.zeros((2, 2, 3), np.float32)
    raw = Photo(pixels=pixels, path=Path("f.CR2"), is_raw=True)
    deep = Photo(pixels=pixels, path=Path("d.tif"), bit_depth=16)
    plain = Photo(pixels=pixels, path=Path("a.jpg"))
    assert same_kind_options(raw, "tiff").bits == 16 and same_kind_options(deep, "png").bits == 16
    assert same_kind_options(plain, "tiff").bits == 8 and same_kind_options(raw, "jpeg").bits == 8
    jpeg = same_kind_options(plain, "jpeg")
    assert jpeg.format == "jpeg" and jpeg.quality == HIGH_QUALITY >= 95
