"""The project's agents for ``langgraph dev`` (LangGraph's open-source in-memory API server).

``stateline export-graph`` writes a ``langgraph.json`` and a small module beside the
project file; the module calls :func:`langgraph_export`, and ``langgraph.json`` points
``langgraph dev`` at three of its names:

- ``graphs``: the supervisor over the project's agents, compiled *without* a checkpointer
  or store (``langgraph dev`` refuses graphs that carry their own);
- ``checkpointer``: ``{"path": ...}`` — langgraph-api's custom checkpointer (an async
  context manager yielding a ``BaseCheckpointSaver``), here stateline's saver on the
  project's database, so every checkpoint lands in the same SQLite file or PostgreSQL
  database ``stateline serve`` and ``stateline threads show`` use;
- ``store``: ``{"path": ...}`` — the same database's store (``ctx.remember`` / ``recall``).

What runs under ``langgraph dev`` is LangGraph's own run loop, not stateline's turn core:
no thread lease, no tracked run rows, no stored event log, no automatic recovery; effects
still go through the durable ledger (``ctx.effect`` is recorded once per key), and paused
agents are still skipped. See docs/platform.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langgraph.store.base import BaseStore, Op, Result

from stateline.errors import ConfigError

CONFIG_FILE = "langgraph.json"
MODULE_FILE = "stateline_langgraph.py"
MODULE = '''"""Written by `stateline export-graph`: this project's agents for `langgraph dev`.

langgraph.json points `langgraph dev` at the names below; run `stateline export-graph --force`
to write it again after changing the project file.
"""

from pathlib import Path

from stateline import langgraph_export

_export = langgraph_export(Path(__file__).parent / {project!r}{db})

graph = _export.graph()
checkpointer = _export.checkpointer
store = _export.store
{agent_lines}'''


class _ThreadIndexHook:
    """Records each turn in the thread index (what ``stateline threads list`` reads) when the
    supervisor's ``route`` node starts: the turn core does this for its own turns, and none runs here."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def node_started(self, *, thread_id: str, node: str, **_: Any) -> None:
        if node == "route" and thread_id:
            self.app.threads.touch(thread_id, user_id=None, workflow=self.app.workflow)


class ThreadedStore(BaseStore):
    """A sync store (SQLite's has no async side) whose async calls run in a worker thread."""

    def __init__(self, inner: BaseStore) -> None:
        self.inner = inner

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        return self.inner.batch(ops)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        return await asyncio.get_running_loop().run_in_executor(None, self.inner.batch, ops)


@dataclass
class LangGraphExport:
    """One project opened for ``langgraph dev``: its App (database, agents) and what langgraph.json names."""

    app: Any
    """The project's App (``stateline._app.App``) on its database."""

    def graph(self, agent: str | None = None) -> Any:
        """The supervisor over every agent (or over ``agent`` alone), without checkpointer or store."""
        from stateline.graphs import AgentRegistry, HookSet, build_supervisor

        app = self.app
        registry = app.registry
        if agent is not None:
            registry = AgentRegistry([app.registry.get(agent)])
        # not app.hooks: stateline's tracker records runs of the turn core, and none runs here
        hooks = HookSet([_ThreadIndexHook(app)])
        return build_supervisor(registry, provider=app.provider, hooks=hooks, ledger=app.ledger, gate=app.gate)

    @asynccontextmanager
    async def checkpointer(self) -> AsyncIterator[Any]:
        """What ``langgraph.json``'s ``checkpointer.path`` names: stateline's saver on the project's database."""
        yield self.app.database.saver

    def store(self) -> BaseStore:
        """What ``langgraph.json``'s ``store.path`` names: the project database's store."""
        return ThreadedStore(self.app.database.store)


def langgraph_export(project_file: str | Path, db: str | None = None) -> LangGraphExport:
    """Open the project named by ``project_file`` (a ``stateline.toml`` or agents file) for ``langgraph dev``.

    The database: ``$STATELINE_DB``, else ``db``, else the project file's ``db``.
    """
    from ._session import open_session

    path = Path(project_file).resolve()
    return LangGraphExport(open_session(db=os.environ.get("STATELINE_DB") or db, agents_file=str(path)))


def _attr(agent: str) -> str:
    return "agent_" + re.sub(r"\W", "_", agent)


def plan(
    project: Any, names: Sequence[str], agents: Sequence[Any], folder: Path, force: bool, *, db: str | None = None
) -> dict[Path, str]:
    """The files ``export-graph`` writes (path -> text); a typed error, nothing written, if it may not."""
    known = [a.name for a in agents]
    for name in names:
        if name not in known:
            raise ConfigError(f"unknown agent {name!r}: {project.path.name} has {', '.join(known)}")
    config, module = folder / CONFIG_FILE, folder / MODULE_FILE
    if not force:
        for existing in (config, module):
            if existing.exists():
                raise ConfigError(f"{existing} already exists: pass --force to replace it")
    rel = "./" + MODULE_FILE
    graphs = {project.workflow: f"{rel}:graph"}
    lines = []
    for name in names:
        graphs[name] = f"{rel}:{_attr(name)}"
        lines.append(f"{_attr(name)} = _export.graph({name!r})\n")
    try:
        project_ref = os.path.relpath(project.path, folder)
    except ValueError:  # another drive
        project_ref = str(project.path)
    spec = {
        "dependencies": ["."],
        "graphs": graphs,
        "checkpointer": {"path": f"{rel}:checkpointer"},
        "store": {"path": f"{rel}:store"},
    }
    body = MODULE.format(project=project_ref, db=f", db={db!r}" if db else "", agent_lines="".join(lines))
    return {config: json.dumps(spec, indent=2) + "\n", module: body}
