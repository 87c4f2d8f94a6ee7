"""The agent registry: agents are plug-ins, added without touching the supervisor."""

from __future__ import annotations

import builtins
import importlib
import tomllib
from collections.abc import Iterator
from pathlib import Path

from stateline.errors import AgentDefinitionError, ConfigError, UnknownAgentError

from ._agent import Agent


class AgentRegistry:
    """Agents by name, in registration order."""

    def __init__(self, agents: list[Agent] | tuple[Agent, ...] = ()) -> None:
        self._agents: dict[str, Agent] = {}
        for agent in agents:
            self.register(agent)

    def register(self, agent: Agent, *, replace: bool = False) -> Agent:
        """Add ``agent``; a second agent with the same name is an error unless ``replace``."""
        if not isinstance(agent, Agent):
            raise AgentDefinitionError(None, "agent", f"expected an Agent, got {type(agent).__name__}")
        if agent.name in self._agents and not replace:
            raise AgentDefinitionError(
                agent.name, "name", "an agent with this name is already registered; pick another name"
            )
        self._agents[agent.name] = agent
        return agent

    def unregister(self, name: str) -> Agent:
        """Remove and return the agent ``name``."""
        if name not in self._agents:
            raise UnknownAgentError(name, self._agents)
        return self._agents.pop(name)

    def get(self, name: str) -> Agent:
        if name not in self._agents:
            raise UnknownAgentError(name, self._agents)
        return self._agents[name]

    def __contains__(self, name: object) -> bool:
        return name in self._agents

    def __iter__(self) -> Iterator[Agent]:
        return iter(list(self._agents.values()))

    def __len__(self) -> int:
        return len(self._agents)

    def names(self) -> list[str]:
        return list(self._agents)

    def list(self) -> list[Agent]:
        return list(self._agents.values())

    def by_intent(self, intent: str) -> builtins.list[Agent]:
        """Agents that declare ``intent``."""
        return [a for a in self._agents.values() if intent in a.intents]

    def load_toml(self, path: str | Path) -> builtins.list[Agent]:
        """Register the agents a TOML file lists, as ``agents = ["module:attribute", ...]``.

        The list may sit at the top level or under ``[stateline]``; an attribute may be an
        :class:`Agent` or a function returning one.
        """
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"agent config {str(path)!r} does not exist") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"agent config {str(path)!r} is not valid TOML: {exc}") from exc
        refs = data.get("stateline", {}).get("agents", data.get("agents"))
        if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
            raise ConfigError(
                f"agent config {str(path)!r} needs agents = [\"package.module:attribute\", ...]"
            )
        loaded = [load_agent(ref) for ref in refs]
        for agent in loaded:
            self.register(agent)
        return loaded


def load_agent(ref: str, *, where: str | None = None, folder: str | None = None) -> Agent:
    """Import ``module:attribute`` and return the Agent it names (calling a factory if needed).

    The one loader of agent references (TOML agents files and ``stateline.toml`` alike); every
    problem is one ``ConfigError`` line. ``where`` prefixes the messages (default: the reference),
    ``folder`` says where the module was looked for.
    """
    import inspect

    where = where or f"agent reference {ref!r}"
    module_name, _, attr = ref.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"{where} must look like 'package.module:attribute'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        place = f" from {folder!r}" if folder else ""
        raise ConfigError(f"{where}: cannot import {module_name!r}{place} ({exc})") from None
    obj = getattr(module, attr, None)
    if obj is None:
        raise ConfigError(f"{where}: module {module_name!r} has no attribute {attr!r}")
    if inspect.isclass(obj):
        raise ConfigError(
            f"{where} is the class {obj.__name__}; name an Agent(...) instance or a function returning one"
        )
    if not isinstance(obj, Agent) and callable(obj):
        try:
            obj = obj()
        except Exception as exc:  # noqa: BLE001 - the user's factory: reported in one line
            raise ConfigError(f"{where}: calling {attr}() failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(obj, Agent):
        raise ConfigError(f"{where} is a {type(obj).__name__}, not a stateline Agent")
    return obj
