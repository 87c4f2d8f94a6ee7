"""The example workflows the CLI can run, by name."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from stateline.checkpointing import Database
from stateline.graphs import Agent
from stateline.errors import UnknownExampleError

EXAMPLES = {"storefront": "stateline.examples.storefront", "assistant": "stateline.examples.assistant"}


def example_agents(name: str) -> Callable[[Database], list[Agent]]:
    """The ``create_agents(db)`` function of example ``name``."""
    if name not in EXAMPLES:
        raise UnknownExampleError(name, EXAMPLES)
    return importlib.import_module(EXAMPLES[name]).create_agents
