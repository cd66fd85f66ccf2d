"""Reading photos: RAW (DNGs made here from known images, and a real camera file), everyday formats,
EXIF orientation, bit depth, colour modes, ICC profiles, the preview path and folder scanning."""

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

from clode.base.errors import ImageReadError
from clode.io.imageio import (DEFAULT_MAX_PIXELS, SUPPORTED_EXTENSIONS, Photo, RawOptions, find_images,
                           is_supported, load_image, load_preview, read_size)
from conftest import DATASETS
from dng import make_dng

PHOTO = DATASETS / "photos" / "kphotoalbum-anne_helene.jpg"
KODAK = DATASETS / "raw" / "kodak_c330.raw"


def psnr(a, b):
    return 10 * np.log10(1.0 / np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))


@pytest.fixture(scope="module")
def photo_rgb():
    """A real photo, 192 x 128, as float sRGB."""
    with Image.open(PHOTO) as im:
        return np.asarray(im.convert("RGB").resize((192, 128), Image.BILINEAR), np.float32) / 255


@pytest.fixture(scope="module")
def chart():
    """Flat colour patches (a small colour chart), 8 x 4 patches of 16 px."""
    rng = np.random.default_rng(7)
    colours = rng.uniform(0.05, 0.95, size=(4, 8, 3)).astype(np.float32)
    colours[0, :4] = [[0.9, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.9], [0.5, 0.5, 0.5]]
    return np.kron(colours, np.ones((16, 16, 1), np.float32)), colours


def patch_means(img, n_rows=4, n_cols=8, size=16, margin=4):
    return np.array([[img[r * size + margin:(r + 1) * size - margin, c * size + margin:(c + 1) * size - margin]
                      .reshape(-1, 3).mean(0) for c in range(n_cols)] for r in range(n_rows)])


# ---------------------------------------------------------------------------------------------
# RAW

@pytest.mark.parametrize("bits", [12, 16])
@pytest.mark.parametrize("pattern", ["RGGB", "BGGR", "GRBG", "GBRG"])
def test_dng_decodes_to_source_colours(tmp_path, photo_rgb, chart, pattern, bits):
    path = make_dng(tmp_path / f"photo_{pattern}.dng", photo_rgb, pattern, bits)
    photo = load_image(path)
    assert photo.pixels.shape == photo_rgb.shape and photo.pixels.dtype == np.float32
    assert photo.is_raw and photo.bit_depth == 16 and not photo.is_preview
    assert photo.full_size == photo_rgb.shape[:2]
    assert psnr(photo.pixels, photo_rgb) >= 30

    chart_img, colours = chart
    decoded = load_image(make_dng(tmp_path / f"chart_{pattern}.dng", chart_img, pattern, bits)).pixels
    # flat patches: colour (white balance, matrix, gamma, black level, CFA order) must be right
    assert np.abs(patch_means(decoded) - colours).max() < 0.02


def test_dng_metadata_and_icc(tmp_path, photo_rgb):
    path = make_dng(tmp_path / "meta.dng", photo_rgb, make="Kodak", model="Night Cam",
                    capture_time="2023:05:06 07:08:09")
    photo = load_image(path)
    assert (photo.make, photo.model, photo.capture_time) == ("Kodak", "Night Cam", "2023:05:06 07:08:09")
    assert photo.exif is not None and photo.alpha is None
    profile = ImageCms.ImageCmsProfile(__import__("io").BytesIO(photo.icc_profile))
    assert "sRGB" in ImageCms.getProfileDescription(profile)


@pytest.mark.parametrize("name", ["UPPER.DNG", "Mixed.Dng"])
def test_raw_extension_any_case(tmp_path, photo_rgb, name):
    photo = load_image(make_dng(tmp_path / name, photo_rgb))
    assert photo.is_raw and photo.pixels.shape == photo_rgb.shape


# What a viewer does to a photo stored with each EXIF orientation.
VIEW = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_90}


@pytest.mark.parametrize("orientation", range(2, 9))
def test_raw_orientation_is_applied(tmp_path, photo_rgb, orientation):
    stored = load_image(make_dng(tmp_path / "o1.dng", photo_rgb)).pixels
    want = np.dstack([np.asarray(Image.fromarray(stored[..., c], "F").transpose(VIEW[orientation]))
                      for c in range(3)])
    path = make_dng(tmp_path / f"o{orientation}.dng", photo_rgb, orientation=orientation)
    photo = load_image(path)
    assert photo.pixels.shape == want.shape and photo.full_size == want.shape[:2]
    assert read_size(path) == (want.shape[1], want.shape[0])     # (width, height) from the header alone
    assert np.abs(photo.pixels - want).max() < 1e-3
    preview = load_preview(path, max_side=64)
    assert preview.full_size == want.shape[:2]
    assert (preview.pixels.shape[0] > preview.pixels.shape[1]) == (want.shape[0] > want.shape[1])


@pytest.mark.parametrize("orientation", [1, 6])
def test_raw_embedded_preview(tmp_path, photo_rgb, orientation):
    thumb = np.zeros((64, 96, 3), np.float32)
    thumb[:, :48] = (1, 0, 0)          # left half red: unlike the raw data, so we see which was used
    path = make_dng(tmp_path / "cam.dng", photo_rgb, orientation=orientation, thumbnail=thumb)
    preview = load_preview(path, max_side=80, raw=RawOptions(embedded_preview=True))
    upright = thumb if orientation == 1 else np.rot90(thumb, k=-1)
    full = (128, 192) if orientation == 1 else (192, 128)
    assert preview.is_preview and preview.full_size == full
    assert preview.pixels.shape == ((53, 80, 3) if orientation == 1 else (80, 53, 3))
    small = np.asarray(Image.fromarray((upright * 255).astype(np.uint8)).resize(preview.pixels.shape[1::-1]),
                       np.float32) / 255
    assert np.abs(preview.pixels - small).mean() < 0.05
    assert load_image(path).pixels.shape[:2] == tuple(preview.full_size)   # the full decode is the raw data
    tiny = make_dng(tmp_path / "tiny.dng", photo_rgb, thumbnail=thumb[:8, :12])   # too small: half-size instead
    assert np.array_equal(load_preview(tiny, 80, raw=RawOptions(embedded_preview=True)).pixels,
                          load_preview(tiny, 80).pixels)


def test_raw_options(tmp_path, photo_rgb):
    path = make_dng(tmp_path / "opts.dng", photo_rgb * 0.5)
    base = load_image(path).pixels
    brighter = load_image(path, raw=RawOptions(exposure=2.0)).pixels
    assert brighter.mean() > base.mean() * 1.2
    linear = load_image(path, raw=RawOptions(demosaic="LINEAR")).pixels
    assert psnr(linear, base) > 25
    with pytest.raises(ValueError):
        load_image(path, raw=RawOptions(white_balance="tungsten"))


def test_real_camera_raw_kodak():
    photo = load_image(KODAK)
    assert photo.pixels.shape == (912, 1216, 3) and photo.pixels.dtype == np.float32
    assert photo.is_raw and photo.bit_depth == 16
    assert 0.0 <= photo.pixels.min() and photo.pixels.max() <= 1.0
    assert photo.pixels.std() > 0.05   # a real scene, not a flat frame
    # it looks like what a standard decoder makes of it (same scene, same layout)
    with Image.open(KODAK.with_name("kodak_c330.reference.jpg")) as im:
        ref = np.asarray(im.convert("L"), np.float32)
    ours = photo.pixels.mean(axis=2)
    if ref.shape != ours.shape:
        ref = np.asarray(Image.fromarray(ref).resize(ours.shape[::-1]), np.float32)
    assert np.corrcoef(ours.ravel(), ref.ravel())[0, 1] > 0.9


def test_raw_preview_is_smaller_and_fast_path(tmp_path, photo_rgb):
    path = make_dng(tmp_path / "big.dng", np.kron(photo_rgb, np.ones((2, 2, 1), np.float32)))
    full = load_image(path)
    preview = load_preview(path, max_side=200)
    assert preview.is_preview and preview.full_size == full.pixels.shape[:2] == (256, 384)
    assert max(preview.pixels.shape[:2]) <= 200
    small = np.asarray(Image.fromarray((full.pixels * 255).astype(np.uint8)).resize(
        preview.pixels.shape[1::-1], Image.BOX), np.float32) / 255
    assert psnr(preview.pixels, small) > 25
    kodak = load_preview(KODAK, max_side=400)    # not Bayer: no half-size mode, still a preview
    assert kodak.pixels.shape == (300, 400, 3) and kodak.full_size == (912, 1216)
    # asking for the embedded preview where a file has none falls back to the half-size decode
    fallback = load_preview(path, max_side=200, raw=RawOptions(embedded_preview=True))
    assert np.array_equal(fallback.pixels, preview.pixels)


# ---------------------------------------------------------------------------------------------
# Everyday formats

@pytest.mark.parametrize("fmt,ext,tol", [("JPEG", ".jpg", 0.08), ("PNG", ".png", 0), ("TIFF", ".tif", 0),
                                         ("WEBP", ".webp", 0.1), ("BMP", ".bmp", 0)])
def test_everyday_formats(tmp_path, photo_rgb, fmt, ext, tol):
    rgb8 = (photo_rgb * 255).round().astype(np.uint8)
    path = tmp_path / f"img{ext.upper() if fmt == 'BMP' else ext}"
    Image.fromarray(rgb8).save(path, format=fmt, **({"quality": 95} if fmt in ("JPEG", "WEBP") else {}))
    photo = load_image(path)
    assert isinstance(photo, Photo) and photo.pixels.shape == (128, 192, 3) and photo.pixels.dtype == np.float32
    assert photo.bit_depth == 8 and not photo.is_raw and photo.path == path
    err = np.abs(photo.pixels - rgb8 / 255.0)
    assert err.mean() <= tol / 4 + 1e-6 and (tol == 0 and err.max() < 1e-6 or psnr(photo.pixels, rgb8 / 255.0) > 30)


def upright_test_image():
    """An asymmetric image: every orientation mistake shows."""
    img = np.zeros((24, 36, 3), np.uint8)
    img[:12, :18] = (255, 0, 0)
    img[:12, 18:] = (0, 255, 0)
    img[12:, :18] = (0, 0, 255)
    img[12:, 18:] = (255, 255, 0)
    img[:4, :6] = (255, 255, 255)
    return img


# How a camera stores an upright scene under each orientation (the inverse of what a viewer does).
STORE = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
         4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90,
         7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_270}


@pytest.mark.parametrize("ext", [".png", ".jpg", ".tif", ".webp"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation(tmp_path, orientation, ext):
    upright = Image.fromarray(upright_test_image())
    stored = upright if STORE[orientation] is None else upright.transpose(STORE[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}{ext}"
    stored.save(path, exif=exif.tobytes(), **({"quality": 98} if ext in (".jpg", ".webp") else {}))
    with Image.open(path) as im:     # the test image itself is right: Pillow's viewer logic agrees
        assert np.abs(np.asarray(ImageOps.exif_transpose(im).convert("RGB"), float)
                      - np.asarray(upright, float)).mean() < 8
    photo = load_image(path)
    want = np.asarray(upright, np.float32) / 255
    assert photo.pixels.shape == want.shape
    assert read_size(path) == (want.shape[1], want.shape[0])
    assert np.abs(photo.pixels - want).mean() < 0.03
    if ext == ".jpg":
        preview = load_preview(path, max_side=18)
        assert preview.full_size == (24, 36) and preview.pixels.shape[:2] == (12, 18)


def test_jpeg_preview_uses_draft_mode(tmp_path, photo_rgb):
    big = Image.fromarray((photo_rgb * 255).astype(np.uint8)).resize((1920, 1280))
    exif = Image.Exif()
    exif[0x0112] = 8
    big.save(tmp_path / "big.jpg", quality=90, exif=exif.tobytes())
    preview = load_preview(tmp_path / "big.jpg", max_side=300)
    assert preview.is_preview and preview.full_size == (1920, 1280)
    assert preview.pixels.shape == (300, 200, 3)
    full = load_image(tmp_path / "big.jpg")
    assert full.pixels.shape == (1920, 1280, 3) and not full.is_preview
    same = load_preview(tmp_path / "big.jpg", max_side=5000)   # already small enough: the full image
    assert not same.is_preview and same.pixels.shape == (1920, 1280, 3)


def gradient16():
    """Values between the 8-bit levels: only a 16-bit path keeps them."""
    y, x = np.mgrid[0:64, 0:96]
    rgb = np.stack([x * 683 + y, y * 1021 + x * 3, (x * y * 11) % 65536], axis=2) % 65536
    return rgb.astype(np.uint16)


def test_16bit_png_reads_all_16_bits(tmp_path):
    from clode.io.export import write_png
    a = gradient16()
    with open(tmp_path / "g16.png", "wb") as f:
        write_png(f, a)
    with Image.open(tmp_path / "g16.png") as im:   # a standard decoder reads our file (its high bytes)
        assert np.array_equal(np.asarray(im.convert("RGB")), (a >> 8).astype(np.uint8))
    photo = load_image(tmp_path / "g16.png")
    assert photo.bit_depth == 16
    assert np.array_equal(np.rint(photo.pixels * 65535).astype(np.uint16), a)

    grey = tmp_path / "grey16.png"
    Image.fromarray(np.ascontiguousarray(a[..., 0])).save(grey)    # 16-bit grey written by Pillow
    g = load_image(grey)
    assert g.bit_depth == 16 and np.array_equal(np.rint(g.pixels[..., 1] * 65535).astype(np.uint16), a[..., 0])


def interlaced_png16(a):
    """An Adam7-interlaced 16-bit RGB PNG (unfiltered), written here since no library at hand does."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b""
    for x0, y0, dx, dy in [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
                           (0, 1, 1, 2)]:
        sub = a[y0::dy, x0::dx]
        if sub.size:
            raw += b"".join(b"\x00" + row.astype(">u2").tobytes() for row in sub)
    h, w = a.shape[:2]
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 1))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_16bit_interlaced_png(tmp_path):
    a = gradient16()[:37, :53]
    (tmp_path / "i16.png").write_bytes(interlaced_png16(a))
    with Image.open(tmp_path / "i16.png") as im:
        assert im.info.get("interlace") == 1
    photo = load_image(tmp_path / "i16.png")
    assert photo.bit_depth == 16 and np.array_equal(np.rint(photo.pixels * 65535).astype(np.uint16), a)


def test_16bit_tiff_reads_all_16_bits(tmp_path):
    import tifffile
    a = gradient16()
    tifffile.imwrite(tmp_path / "g16.tif", a, photometric="rgb", compression="zlib")
    photo = load_image(tmp_path / "g16.tif")
    assert photo.bit_depth == 16 and np.array_equal(np.rint(photo.pixels * 65535).astype(np.uint16), a)
    rgba = np.dstack([a, a[..., :1]])
    tifffile.imwrite(tmp_path / "a16.tif", rgba, photometric="rgb", extrasamples=["unassalpha"])
    photo = load_image(tmp_path / "a16.tif")
    assert photo.alpha is not None and np.allclose(photo.alpha, a[..., 0] / 65535, atol=1e-6)


def test_colour_modes(tmp_path, photo_rgb):
    rgb8 = (photo_rgb * 255).round().astype(np.uint8)
    im = Image.fromarray(rgb8)
    # grey -> three equal channels
    im.convert("L").save(tmp_path / "grey.png")
    grey = load_image(tmp_path / "grey.png").pixels
    assert grey.shape == (128, 192, 3) and np.array_equal(grey[..., 0], grey[..., 2])
    # 1-bit
    im.convert("1").save(tmp_path / "bw.png")
    assert set(np.unique(load_image(tmp_path / "bw.png").pixels)) <= {0.0, 1.0}
    # palette, with and without transparency
    pal = im.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    pal.save(tmp_path / "pal.png")
    assert psnr(load_image(tmp_path / "pal.png").pixels, photo_rgb) > 20
    pal.save(tmp_path / "palt.png", transparency=0)
    palt = load_image(tmp_path / "palt.png")
    assert palt.alpha is not None and palt.alpha.min() == 0.0 and palt.alpha.max() == 1.0
    # RGBA and LA: alpha kept aside
    alpha = np.tile(np.linspace(0, 255, 192, dtype=np.uint8), (128, 1))
    Image.fromarray(np.dstack([rgb8, alpha]), "RGBA").save(tmp_path / "rgba.png")
    rgba = load_image(tmp_path / "rgba.png")
    assert rgba.pixels.shape == (128, 192, 3) and np.allclose(rgba.alpha, alpha / 255.0)
    assert np.allclose(rgba.pixels, rgb8 / 255.0)
    Image.fromarray(np.dstack([rgb8[..., 0], alpha]), "LA").save(tmp_path / "la.png")
    la = load_image(tmp_path / "la.png")
    assert np.allclose(la.alpha, alpha / 255.0) and np.allclose(la.pixels[..., 1], rgb8[..., 0] / 255.0)
    # CMYK JPEG -> RGB close to the original colours
    im.convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    cmyk = load_image(tmp_path / "cmyk.jpg")
    assert cmyk.pixels.shape == (128, 192, 3) and psnr(cmyk.pixels, photo_rgb) > 25


def test_icc_profile_is_read(tmp_path, photo_rgb):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray((photo_rgb * 255).astype(np.uint8)).save(tmp_path / "icc.jpg", icc_profile=icc)
    assert load_image(tmp_path / "icc.jpg").icc_profile == icc
    Image.fromarray((photo_rgb * 255).astype(np.uint8)).save(tmp_path / "none.jpg")
    assert load_image(tmp_path / "none.jpg").icc_profile is None


def test_jpeg_exif_fields(tmp_path, photo_rgb):
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Canon", "EOS R6"
    exif.get_ifd(0x8769)[0x9003] = "2024:01:02 03:04:05"
    Image.fromarray((photo_rgb * 255).astype(np.uint8)).save(tmp_path / "cam.jpg", exif=exif.tobytes())
    photo = load_image(tmp_path / "cam.jpg")
    assert (photo.make, photo.model, photo.capture_time) == ("Canon", "EOS R6", "2024:01:02 03:04:05")
    assert photo.exif.startswith(b"Exif\x00\x00")


def test_read_size_errors_name_the_file(tmp_path):
    assert read_size(KODAK) == (1216, 912)
    (tmp_path / "notes.jpg").write_text("not a photo")
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "cut.dng").write_bytes(b"II*\x00" + bytes(40))
    for name, why in [("notes.jpg", "not a valid JPEG file"), ("empty.png", "empty file"),
                      ("cut.dng", "RAW"), ("missing.tif", "file not found")]:
        with pytest.raises(ImageReadError, match=why) as e:
            read_size(tmp_path / name)
        assert str(e.value).startswith(str(tmp_path / name) + ": ") and "\n" not in str(e.value)


def test_pixel_limit(tmp_path, photo_rgb):
    Image.fromarray((photo_rgb * 255).astype(np.uint8)).save(tmp_path / "small.png")
    assert DEFAULT_MAX_PIXELS > 100_000_000
    load_image(tmp_path / "small.png", max_pixels=128 * 192)
    with pytest.raises(ImageReadError, match="too large"):
        load_image(tmp_path / "small.png", max_pixels=128 * 192 - 1)
    with pytest.raises(ImageReadError, match="too large"):
        load_preview(tmp_path / "small.png", max_pixels=1000)
    dng = make_dng(tmp_path / "small.dng", photo_rgb)
    with pytest.raises(ImageReadError, match="too large"):
        load_image(dng, max_pixels=1000)


def test_our_limit_replaces_pillows(tmp_path, photo_rgb, monkeypatch):
    """Pillow's process-wide bomb limit (89 MP) is below ours: it must not refuse what we allow."""
    Image.fromarray((photo_rgb * 255).astype(np.uint8)).save(tmp_path / "p.png")
    Image.fromarray((photo_rgb * 255).astype(np.uint8)).save(tmp_path / "p.jpg")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    for name in ("p.png", "p.jpg"):
        assert load_image(tmp_path / name).pixels.shape == (128, 192, 3)
        assert load_preview(tmp_path / name, 64).pixels.shape == (43, 64, 3)
    assert Image.MAX_IMAGE_PIXELS == 1000


def test_supported_and_find_images(tmp_path, photo_rgb):
    assert {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".dng", ".cr2", ".cr3", ".nef",
            ".arw", ".raf", ".orf", ".rw2", ".pef", ".srw", ".raw"} <= SUPPORTED_EXTENSIONS
    assert all(e == e.lower() and e.startswith(".") for e in SUPPORTED_EXTENSIONS)
    assert is_supported("a/B.JPG") and is_supported("x.Nef") and not is_supported("x.gif")
    assert not is_supported("notes.txt") and not is_supported("README")
    for rel in ["b.JPG", "a.png", "sub/c.NEF", "sub/deeper/d.tif", ".hidden.jpg", ".cache/e.jpg",
                "notes.txt", "out/f.png"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    names = [p.relative_to(tmp_path).as_posix() for p in find_images(tmp_path)]
    assert names == ["a.png", "b.JPG", "out/f.png", "sub/c.NEF", "sub/deeper/d.tif"]
    assert [p.name for p in find_images(tmp_path, recursive=False)] == ["a.png", "b.JPG"]
    assert "out/f.png" not in [p.relative_to(tmp_path).as_posix()
                               for p in find_images(tmp_path, exclude=tmp_path / "out")]
