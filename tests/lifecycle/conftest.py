from __future__ import annotations

import pytest

from tests.lifecycle import apps


@pytest.fixture(autouse=True)
def _reset_apps() -> None:
    apps.FAILURES.clear()
    apps.CALLS.clear()


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "life.db"
