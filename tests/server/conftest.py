from __future__ import annotations

import pytest

from tests.server_kit import ServerProcess


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One shared server (storefront, ``listing`` needs approval); tests use their own threads."""
    with ServerProcess(tmp_path_factory.mktemp("srv") / "shared.db") as srv:
        yield srv


@pytest.fixture
def own_server(db_url, tmp_path):
    """A server of this test's own, which the test may restart; on SQLite and PostgreSQL."""
    srv = ServerProcess(db_url, log=tmp_path / "server.log")
    yield srv
    srv.stop()
