"""Real ``stateline serve`` processes driven with the real ``langgraph-sdk`` client.

``storefront``: the storefront example (``listing`` needs approval); ``slow``: agents that nap
(``tests/server/slow_agents.toml``), so a run can be caught mid-turn. Each on SQLite and on
PostgreSQL (a fresh schema per package run): one server of each kind per backend serves every
module here (tests make their own threads; a test that kills or restarts a server starts its own).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph_sdk import get_sync_client

from tests.conftest import _admin, _with_schema, pg_admin_url
from tests.server_kit import TOKENS, ServerProcess

SLOW_AGENTS = str(Path(__file__).parents[1] / "server" / "slow_agents.toml")
FAST_TAKEOVER = {"STATELINE_PLATFORM_STALE_SECONDS": "2", "STATELINE_PLATFORM_BEAT_SECONDS": "0.3"}


@pytest.fixture(scope="package")
def pg_module_url() -> Iterator[str]:
    admin = pg_admin_url()
    name = f"stl_plat_{uuid.uuid4().hex[:12]}"
    _admin(admin, f'CREATE SCHEMA "{name}"')
    try:
        yield _with_schema(admin, name)
    finally:
        _admin(admin, f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture(scope="package", params=["sqlite", "postgres"])
def module_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('plat') / 'platform.db'}"
    return request.getfixturevalue("pg_module_url")


@pytest.fixture(scope="package")
def storefront(module_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    log = tmp_path_factory.mktemp("log") / "storefront.log"
    with ServerProcess(module_db, args=("--approval", "listing"), log=log) as srv:
        yield srv


@pytest.fixture(scope="package")
def slow(module_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A second server on the same database, serving the napping agents (another workflow)."""
    log = tmp_path_factory.mktemp("log") / "slow.log"
    with ServerProcess(module_db, args=("--agents-file", SLOW_AGENTS), env=FAST_TAKEOVER, log=log) as srv:
        yield srv


def sdk(srv: ServerProcess, user: str = "alice"):
    return get_sync_client(url=srv.url, api_key=TOKENS[user])


def say(text: str) -> dict:
    return {"messages": [{"role": "user", "content": text}]}
