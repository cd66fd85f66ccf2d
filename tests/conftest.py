import os
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The user's own data (learned taste, fine-tuned models) never leaks into or out of a test run.
os.environ.setdefault("CLODE_DATA_DIR", tempfile.mkdtemp(prefix="clode-test-data-"))

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(min(2, os.cpu_count() or 1))

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
FIXTURE = SHARED / "reference" / "clode_official_fixture.npz"
DATASETS = SHARED / "datasets"
ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture(scope="session")
def fixture_npz():
    return np.load(FIXTURE)


@pytest.fixture(scope="session")
def official_state(fixture_npz):
    """The fixture's official-layout state dict (both prefixes, unused layers)."""
    return {k[len("state/"):]: torch.from_numpy(fixture_npz[k]) for k in fixture_npz.files if k.startswith("state/")}


@pytest.fixture(scope="session")
def fixture_model_path(tmp_path_factory, official_state):
    """The fixture weights written as an official .pth file."""
    path = tmp_path_factory.mktemp("models") / "fixture_official.pth"
    torch.save(official_state, path)
    return path


@pytest.fixture(scope="session")
def fixture_model(fixture_model_path):
    from clode import load_model
    return load_model(fixture_model_path)


@pytest.fixture
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
