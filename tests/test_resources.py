"""The bundled files are found through one accessor, from a checkout and from a wheel."""

from pathlib import Path

from clode_desktop import assets

ROOT = Path(__file__).resolve().parents[1]


def test_resources_are_found():
    assert assets.resources_dir() == ROOT / "resources"
    assert assets.sample_photo().is_file()
    assert assets.resource("icons", "open.svg").is_file() and assets.resource("CREDITS.md").is_file()


def test_resources_ship_inside_the_package():
    # pyproject.toml maps the top-level resources/ into the wheel as clode_desktop/resources/.
    text = (ROOT / "pyproject.toml").read_text()
    assert '"clode_desktop.resources" = "resources"' in text
    assert '"clode_desktop.resources" = ["*", "**/*"]' in text


def test_a_wheel_layout_is_found(tmp_path, monkeypatch):
    # As installed from a wheel: clode_desktop/resources/ beside the module.
    pkg = tmp_path / "clode_desktop"
    (pkg / "resources" / "icons").mkdir(parents=True)
    monkeypatch.setattr(assets, "_HERE", pkg)
    assets.resources_dir.cache_clear()
    try:
        assert assets.resources_dir() == pkg / "resources"
    finally:
        assets.resources_dir.cache_clear()
