from __future__ import annotations

import pytest

from tests.server_kit import ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server on a SQLite file for this module (storefront; ``listing`` needs approval)."""
    with ServerProcess(tmp_path_factory.mktemp("srv") / "shared.db") as srv:
        yield srv
