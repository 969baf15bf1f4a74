"""Test-wide settings: never touch the network, never write into the user's home."""

import os
import tempfile
from pathlib import Path

# Set before any test imports ultralytics / transformers.
_YOLO_DIR = tempfile.mkdtemp(prefix="spacy-ita-yolo-")
os.environ["YOLO_OFFLINE"] = "1"
os.environ["YOLO_CONFIG_DIR"] = _YOLO_DIR  # Ultralytics' settings file stays out of $HOME
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("SPACY_ITA_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long training runs on full data (run with `pytest -m slow`)")
    config.addinivalue_line(
        "markers",
        "llm: a real local LLM server (the `llm` extra: bash install.sh --llm; run alone with `pytest -m llm`)",
    )
    config.addinivalue_line(
        "markers",
        "browser: drives the service's page in headless Chromium (apt: chromium chromium-driver; "
        "run alone with `pytest -m browser`)",
    )


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` beside the checkout; tests that need it skip clearly when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real MNER data not found at {SHARED_DATA} (set SPACY_ITA_SHARED_DATA or place ../shared/data)")
    return SHARED_DATA
