"""Which agents a command serves: a project file, an agents file, or an example named on purpose.

``stateline.toml`` is found in the working directory or the nearest parent (as ``pyproject.toml``
is). It names the agents and, optionally, the workflow, the database and who needs approval::

    workflow = "shop"                                  # default: the folder's name
    agents = ["shop_agents:orders", "shop_agents:refunds"]
    db = "sqlite:///shop.db"                           # relative paths: to the project folder
    approval = ["refunds"]

Modules resolve relative to the file's folder (it is put first on ``sys.path``): no
``PYTHONPATH`` needed. ``--agents-file`` names such a file explicitly. Nothing here falls
back to an example: without a project file, an agents file or ``--example``, there are no agents.
"""

from __future__ import annotations

import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stateline.errors import ConfigError

PROJECT_FILE = "stateline.toml"
NO_AGENTS = (
    "no agents named: create {file} here (`stateline init NAME` makes one), pass --agents-file FILE, "
    "or try a built-in example with --example storefront"
)


@dataclass(frozen=True)
class Project:
    """What a project file (or ``--agents-file``) says."""

    path: Path
    """The TOML file."""
    workflow: str
    """Recorded with every thread it starts (``threads list`` shows it)."""
    refs: tuple[str, ...]
    """``module:attribute`` of each agent, in order."""
    db: str | None
    """Its database URL, if it names one (``--db`` / ``$STATELINE_DB`` win)."""
    approval: tuple[str, ...]
    """Agents that pause for a person's approval before acting."""


def find_project(start: Path | None = None) -> Path | None:
    """The nearest ``stateline.toml`` in ``start`` (default: the working directory) or a parent."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / PROJECT_FILE
        if candidate.is_file():
            return candidate
    return None


def read_project(path: str | Path) -> Project:
    """Parse and check a project/agents file; every mistake is one ConfigError line."""
    path = Path(path).resolve()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"agents file {str(path)!r} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{str(path)!r} is not valid TOML: {exc}") from None
    section = data.get("stateline", data)
    refs = section.get("agents")
    if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
        raise ConfigError(f"{str(path)!r} needs agents = [\"module:attribute\", ...]")
    if not refs:
        raise ConfigError(f"{str(path)!r} lists no agents (agents = []); name at least one as \"module:attribute\"")
    approval = section.get("approval", [])
    if not isinstance(approval, list) or not all(isinstance(a, str) for a in approval):
        raise ConfigError(f"{str(path)!r}: approval must be a list of agent names")
    db = section.get("db")
    if db is not None and not isinstance(db, str):
        raise ConfigError(f"{str(path)!r}: db must be a URL string such as \"sqlite:///app.db\"")
    workflow = section.get("workflow") or (path.parent.name if path.name == PROJECT_FILE else path.stem)
    return Project(path, str(workflow), tuple(refs), _relative_db(db, path.parent), tuple(approval))


def _relative_db(url: str | None, folder: Path) -> str | None:
    """``sqlite:///x.db`` in a project file means x.db beside the file, wherever the command runs."""
    if url is None or not url.startswith("sqlite:///") or url.startswith("sqlite:////"):
        return url
    return f"sqlite:///{folder / url[len('sqlite:///'):]}"


def load_agents(project: Project) -> list[Any]:
    """Import each ``module:attribute`` (modules found beside the file) as an Agent."""
    folder = str(project.path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return [_load(ref, project.path) for ref in project.refs]


def _load(ref: str, path: Path) -> Any:
    from stateline.graphs import load_agent

    return load_agent(ref, where=f"{path.name}: agent {ref!r}", folder=str(path.parent))
