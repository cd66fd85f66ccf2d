"""Stars, flags and colour labels: kept in the sidecar, exchanged through XMP as darktable and
Lightroom write it (clode.io.culling, clode.io.xmp)."""

import json
import os
import time

import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image

from clode.io import marks, sidecar, xmp
from clode.io.culling import LABELS, PICK, REJECT, Culling, Filter
from clode.base.errors import ClodeError

# An .xmp sidecar as darktable 4 writes it (trimmed): attributes, its own namespace, a history stack.
DARKTABLE = """<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"
    xmlns:darktable="http://darktable.sf.net/"
   xmp:Rating="4"
   xmpMM:DerivedFrom="IMG_0001.jpg"
   darktable:xmp_version="5"
   darktable:history_end="1">
   <darktable:colorlabels>
    <rdf:Seq>
     <rdf:li>2</rdf:li>
    </rdf:Seq>
   </darktable:colorlabels>
   <darktable:history>
    <rdf:Seq>
     <rdf:li
      darktable:num="0"
      darktable:operation="exposure"
      darktable:enabled="1"
      darktable:params="0000000000000000000080bf0000003f0000c842"/>
    </rdf:Seq>
   </darktable:history>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""

# As Lightroom Classic writes photo.xmp: an xpacket, properties as elements, develop settings, keywords.
LIGHTROOM = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 7.0-c000 1.000000, 0000/00/00-00:00:00        ">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/">
   <xmp:Rating>2</xmp:Rating>
   <xmp:Label>Yellow</xmp:Label>
   <crs:Exposure2012>+0.50</crs:Exposure2012>
   <dc:subject>
    <rdf:Bag>
     <rdf:li>night</rdf:li>
    </rdf:Bag>
   </dc:subject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CLODE_DATA_DIR", str(tmp_path / "userdata"))


@pytest.fixture
def photo(tmp_path):
    p = tmp_path / "IMG_0001.jpg"
    Image.new("RGB", (8, 6), (20, 20, 20)).save(p)
    return p


def values(path):
    """Every XMP property of a file (exiv2's keys), read independently of clode.io.xmp."""
    import exiv2
    image = exiv2.ImageFactory.open(str(path))
    image.readMetadata()
    return {d.key(): str(d.value()) for d in image.xmpData()}


def test_reads_darktable_sidecar_and_keeps_its_history(photo):
    dt = photo.with_name(photo.name + ".xmp")
    dt.write_text(DARKTABLE)
    assert xmp.read_sidecar(photo) == (Culling(4, None, "green"), dt)
    written = xmp.write_sidecar(photo, Culling(2, None, "red"))
    assert written == [dt]
    after = values(dt)
    assert after["Xmp.xmp.Rating"] == "2" and after["Xmp.xmp.Label"] == "Red"
    assert after["Xmp.darktable.colorlabels"] == "0"          # darktable's own list follows
    assert after["Xmp.darktable.history[1]/darktable:operation"] == "exposure"
    assert after["Xmp.darktable.history[1]/darktable:params"] == "0000000000000000000080bf0000003f0000c842"
    assert after["Xmp.xmpMM.DerivedFrom"] == "IMG_0001.jpg"
    assert xmp.read_sidecar(photo)[0] == Culling(2, None, "red")


def test_reads_lightroom_sidecar_and_keeps_its_settings(photo):
    lr = photo.with_suffix(".xmp")
    lr.write_text(LIGHTROOM, encoding="utf-8")
    assert xmp.read_sidecar(photo) == (Culling(2, None, "yellow"), lr)
    xmp.write_sidecar(photo, Culling(0, REJECT, None))
    after = values(lr)
    assert after["Xmp.xmp.Rating"] == "-1" and "Xmp.xmp.Label" not in after
    assert after["Xmp.crs.Exposure2012"] == "+0.50" and after["Xmp.dc.subject"] == "night"
    assert not photo.with_name(photo.name + ".xmp").exists()    # Lightroom's name is the one used


def test_creates_darktables_name_by_default_and_never_touches_the_photo(photo):
    before = photo.read_bytes()
    assert xmp.read_sidecar(photo) is None
    assert xmp.write_sidecar(photo, Culling(5, PICK, "blue")) == [photo.with_name("IMG_0001.jpg.xmp")]
    assert values(photo.with_name("IMG_0001.jpg.xmp")) == {"Xmp.xmp.Rating": "5", "Xmp.xmp.Label": "Blue"}
    assert photo.read_bytes() == before
    assert sorted(p.name for p in photo.parent.iterdir()) == ["IMG_0001.jpg", "IMG_0001.jpg.xmp"]


def test_both_names_are_updated_and_the_newer_is_read(photo):
    dt, lr = photo.with_name(photo.name + ".xmp"), photo.with_suffix(".xmp")
    dt.write_text(DARKTABLE)
    lr.write_text(LIGHTROOM, encoding="utf-8")
    old = time.time() - 100
    os.utime(dt, (old, old))
    assert xmp.read_sidecar(photo)[1] == lr
    assert sorted(xmp.write_sidecar(photo, Culling(3))) == sorted([dt, lr])
    assert values(dt)["Xmp.xmp.Rating"] == values(lr)["Xmp.xmp.Rating"] == "3"


def test_reads_the_photos_embedded_xmp(tmp_path):
    p = tmp_path / "camera.jpg"
    packet = DARKTABLE.replace('xmp:Rating="4"', 'xmp:Rating="3"').encode()
    Image.new("RGB", (8, 8)).save(p, xmp=packet)
    assert xmp.read_embedded(p) == Culling(3, None, "green")
    plain = tmp_path / "plain.jpg"
    Image.new("RGB", (8, 8)).save(plain)
    assert xmp.read_embedded(plain) is None
    assert marks.load(p) == Culling(3, None, "green")
    assert marks.load(plain) == Culling()


def test_damaged_xmp_is_not_read_and_not_replaced(photo):
    dt = photo.with_name(photo.name + ".xmp")
    dt.write_text('<?xml version="1.0"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><broken')
    assert xmp.read_sidecar(photo) is None
    with pytest.raises(ClodeError, match="not an XMP file"):
        xmp.write_sidecar(photo, Culling(1))
    assert dt.read_text().endswith("<broken")
    assert [p.name for p in photo.parent.iterdir() if p.name.endswith(".part")] == []


def test_a_folder_named_like_a_sidecar_is_left_alone(photo):
    photo.with_name(photo.name + ".xmp").mkdir()
    assert xmp.read_sidecar(photo) is None
    with pytest.raises(ClodeError, match="cannot write the XMP sidecar"):
        xmp.write_sidecar(photo, Culling(1))
    assert photo.with_name(photo.name + ".xmp").is_dir()


@settings(max_examples=25, deadline=None)
@given(rating=st.integers(0, 5), flag=st.sampled_from([None, PICK, REJECT]),
       label=st.sampled_from([None, *LABELS]))
def test_round_trip(tmp_path_factory, rating, flag, label):
    folder = tmp_path_factory.mktemp("rt")
    photo = folder / "a.jpg"
    photo.write_bytes(b"x")
    chosen = Culling(rating, flag, label)
    assert marks.save(photo, chosen) == []
    assert marks.load(photo) == chosen                    # the sidecar keeps the pick
    theirs, _ = xmp.read_sidecar(photo)                     # what darktable / Lightroom see
    assert theirs == Culling(0 if flag == REJECT else rating, REJECT if flag == REJECT else None, label)


def test_sidecar_keeps_marks_and_settings_apart(photo):
    sidecar.save_settings(photo, {"T": 2.5})
    sidecar.save_culling(photo, Culling(4, PICK, "red").to_dict())
    sidecar.save_settings(photo, {"T": 1.5})                # the editor saving keeps the marks
    saved = sidecar.load(photo)
    assert saved.settings == {"T": 1.5} and saved.culling == Culling(4, PICK, "red")
    data = json.loads(sidecar.sidecar_path(photo).read_text())
    assert data["culling"] == {"rating": 4, "flag": "pick", "label": "red"}
    # a section another part (or a newer version) keeps in the sidecar survives both kinds of save
    data["history"] = [{"T": 2.5}, {"T": 1.5}]
    sidecar.sidecar_path(photo).write_text(json.dumps(data))
    sidecar.save_culling(photo, Culling(1).to_dict())
    sidecar.save_settings(photo, {"T": 0.5})
    data = json.loads(sidecar.sidecar_path(photo).read_text())
    assert data["history"] == [{"T": 2.5}, {"T": 1.5}] and data["settings"] == {"T": 0.5}
    assert data["culling"]["rating"] == 1
    # the first, flat form of a sidecar: its values are the settings, kept when marks are added
    sidecar.sidecar_path(photo).write_text(json.dumps({"T": 2.0}))
    sidecar.save_culling(photo, Culling(2).to_dict())
    assert sidecar.load(photo).settings == {"T": 2.0} and sidecar.load(photo).culling == Culling(2)


def test_older_sidecars_still_load(photo):
    sidecar.sidecar_path(photo).write_text(json.dumps({"format": "clode-sidecar", "version": 1,
                                                       "settings": {"T": 2.0}}))
    saved = sidecar.load(photo)
    assert saved.settings == {"T": 2.0} and saved.culling is None
    assert marks.load(photo) == Culling()
    # damaged marks take their defaults, the settings still load
    sidecar.sidecar_path(photo).write_text(json.dumps({"settings": {"T": 2.0},
                                                       "culling": {"rating": "lots", "flag": 3, "label": "pink"}}))
    assert sidecar.load(photo).culling == Culling() and sidecar.load(photo).settings == {"T": 2.0}


def test_darktable_rating_after_ours_wins_but_keeps_the_pick(photo):
    marks.save(photo, Culling(2, PICK, None))
    dt = photo.with_name(photo.name + ".xmp")
    dt.write_text(DARKTABLE)                                # darktable rated it later: 4 stars, green
    later = time.time() + 5
    os.utime(dt, (later, later))
    assert marks.load(photo) == Culling(4, PICK, "green")


def test_filter():
    photos = [Culling(0), Culling(3, PICK), Culling(5, REJECT, "red"), Culling(1, None, "red")]
    assert [Filter(min_rating=3).accepts(c) for c in photos] == [False, True, True, False]
    assert [Filter(flags="picked").accepts(c) for c in photos] == [False, True, False, False]
    assert [Filter(flags="unrejected").accepts(c) for c in photos] == [True, True, False, True]
    assert [Filter(label="red", flags="unrejected").accepts(c) for c in photos] == [False, False, False, True]
    assert not Filter().active and Filter(min_rating=1).active


def test_marks_stay_in_range():
    assert Culling().with_label("red").label == "red" and Culling(0, None, "red").with_label("pink").label is None
    assert Culling().with_rating(9).rating == 5 and Culling(3).with_rating(-2).rating == 0
    assert Culling().with_flag("maybe").flag is None


def test_a_fresh_process_writes_a_label(tmp_path):
    # exiv2 knows darktable's namespace only once it has read a file using it: a process that never has
    # must still write labels (the first keypress of a session).
    import subprocess
    import sys
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"x")
    code = ("import sys; from clode.io import xmp; from clode.io.culling import Culling; "
            "xmp.write_sidecar(sys.argv[1], Culling(2, None, 'green')); print(xmp.read_sidecar(sys.argv[1])[0])")
    out = subprocess.run([sys.executable, "-c", code, str(photo)], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Culling(rating=2, flag=None, label='green')"


@pytest.mark.parametrize("ext", [".jpg", ".png", ".tif", ".webp"])
def test_an_export_carries_the_photos_stars_and_label(tmp_path, ext):
    import numpy as np
    from clode.io.export import ExportOptions, save_image
    from clode.io.imageio import load_image
    photo = tmp_path / "IMG_1.jpg"
    Image.new("RGB", (16, 12), (30, 30, 30)).save(photo)
    marks.save(photo, Culling(4, PICK, "blue"))
    source = load_image(photo)
    out = save_image(tmp_path / f"out{ext}", np.full((12, 16, 3), 0.5, np.float32), source=source)
    assert xmp.read_embedded(out) == Culling(4, None, "blue")
    marks.save(photo, Culling(2, REJECT, None))
    out = save_image(tmp_path / f"rejected{ext}", np.full((12, 16, 3), 0.5, np.float32), source=load_image(photo))
    assert xmp.read_embedded(out) == Culling(0, REJECT, None)
    out = save_image(tmp_path / f"stripped{ext}", np.full((12, 16, 3), 0.5, np.float32), source=load_image(photo),
                     options=ExportOptions(strip_metadata=True))
    assert xmp.read_embedded(out) is None


def test_an_entity_bomb_is_refused_quickly(photo):
    lol = "".join(f'<!ENTITY l{i} "{("&l%d;" % (i - 1)) * 10 if i else "lol" * 20}">' for i in range(10))
    photo.with_name(photo.name + ".xmp").write_text(
        f'<?xml version="1.0"?><!DOCTYPE x [{lol}]><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
        'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Label="&l9;" xmp:Rating="3"/></rdf:RDF></x:xmpmeta>')
    start = time.monotonic()
    assert xmp.read_sidecar(photo) is None and marks.load(photo) == Culling()
    assert time.monotonic() - start < 10


scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
junk = scalars | st.lists(scalars, max_size=3) | st.dictionaries(st.text(max_size=6), scalars, max_size=3)


@settings(max_examples=60, deadline=None)
@given(marks=junk | st.fixed_dictionaries({"rating": junk, "flag": junk, "label": junk}))
def test_any_stored_marks_load_as_valid_marks(tmp_path_factory, marks):
    photo = tmp_path_factory.mktemp("junk") / "a.jpg"
    photo.write_bytes(b"x")
    try:
        text = json.dumps({"settings": {"T": 1.0}, "culling": marks})
    except ValueError:
        return                                               # not JSON at all (NaN is, in Python's)
    sidecar.sidecar_path(photo).write_text(text)
    c = sidecar.load(photo).culling
    assert 0 <= c.rating <= 5 and c.flag in (None, PICK, REJECT) and c.label in (None, *LABELS)
    assert sidecar.load(photo).settings == {"T": 1.0}
