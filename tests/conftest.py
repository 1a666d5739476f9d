"""Shared pytest fixtures: paths to the repository and to the public data in ../shared."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def zeotap_dir() -> Path:
    path = SHARED_DATA / "zeotap"
    if not (path / "Transactions.csv").exists():
        pytest.skip(f"public Zeotap files not found at {path}")
    return path
