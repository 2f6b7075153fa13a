"""Shared fixtures: where the real media lives, and an isolated HeyGem home per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from heygem_ops.settings import get_settings

REPO = Path(__file__).resolve().parents[1]


def _media_root() -> Path:
    return Path(os.environ.get("HEYGEM_TEST_MEDIA", REPO.parent / "shared" / "media"))


@pytest.fixture(scope="session")
def media_dir() -> Path:
    """The folder of real clips; tests that need it skip, saying why, when it is absent."""
    root = _media_root()
    if not (root / "MANIFEST.csv").is_file():
        pytest.skip(f"real media not found at {root} (set HEYGEM_TEST_MEDIA to the shared/media folder)")
    return root


@pytest.fixture(autouse=True)
def heygem_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own cache, work and log folders, so tests never share state by accident."""
    home = tmp_path_factory.mktemp("heygem-home")
    monkeypatch.setenv("HEYGEM_HOME", str(home))
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()
