"""Node factories for an agent graph: ``collect -> validate -> act``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END
from langgraph.types import Command, interrupt
from pydantic import BaseModel, ValidationError

from ._context import ActContext, DirectEffects, EffectLedger
from ._provider import ModelProvider
from ._speak import speak
from ._state import ConversationState

ActFn = Callable[..., Any]


def latest_user_text(state: ConversationState) -> str:
    """The newest human message's text ('' if there is none)."""
    for msg in reversed(state.get("messages") or []):
        if isinstance(msg, HumanMessage):
            return msg.text if hasattr(msg, "text") and isinstance(msg.text, str) else str(msg.content)
    return ""


def make_collect(agent: str, schema: type[BaseModel], provider: ModelProvider) -> Callable[..., dict]:
    """``collect``: merge the fields the latest message states into the agent's draft."""

    def collect(state: ConversationState) -> dict[str, Any]:
        draft = dict((state.get("drafts") or {}).get(agent) or {})
        asked = (state.get("asked") or {}).get(agent) or []
        found = provider.extract(schema, latest_user_text(state), draft=draft, asked=asked)
        draft.update(found)
        return {"drafts": {agent: draft}}

    return collect


def describe_problems(schema: type[BaseModel], draft: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Validate ``draft``: (fields to ask for, plain-words problems). Both empty means valid."""
    try:
        schema.model_validate(draft)
    except ValidationError as exc:
        fields: list[str] = []
        problems: list[str] = []
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "value"
            if name not in fields:
                fields.append(name)
            info = schema.model_fields.get(name)
            hint = f" ({info.description})" if info is not None and info.description else ""
            if err["type"] == "missing":
                problems.append(f"{name}{hint}")
            else:
                reason = err["msg"].replace("Input should be", "must be").replace("Value error, ", "")
                problems.append(f"{name} {reason} (you gave {err.get('input')!r})")
        return fields, problems
    return [], []


def ask_message(agent: str, description: str, problems: list[str]) -> str:
    """The question that ends a turn when the draft is not yet valid."""
    listed = "; ".join(problems)
    return f"To {description[0].lower() + description[1:].rstrip('.')}, I still need: {listed}."


def make_validate(
    agent: str, schema: type[BaseModel], description: str, *, approval: bool
) -> Callable[..., Command]:
    """``validate``: go on to ``act`` when the draft is valid, else ask for exactly what is wrong.

    The question is a template on every provider: it must name each field and pydantic's
    reason exactly, which a model's paraphrase cannot be trusted to keep.

    With ``approval``, a valid draft pauses the thread with ``interrupt()`` until a person
    approves, rejects or edits it (edits are validated again).
    """

    def validate(state: ConversationState) -> Command:
        draft = dict((state.get("drafts") or {}).get(agent) or {})
        fields, problems = describe_problems(schema, draft)
        if problems:
            text = speak(agent, ask_message(agent, description, problems))
            return Command(
                goto=END,
                update={"messages": [AIMessage(text, name=agent)], "asked": {agent: fields}, "active_agent": agent},
            )
        if not approval:
            return Command(goto="act")
        decision = interrupt({"agent": agent, "draft": draft, "question": f"Approve this {agent} draft?"})
        return _apply_decision(agent, schema, draft, decision)

    return validate


def _apply_decision(agent: str, schema: type[BaseModel], draft: dict[str, Any], decision: Any) -> Command:
    action = decision.get("action") if isinstance(decision, dict) else decision
    if action == "approve":
        return Command(goto="act")
    if action == "edit":
        edited = {**draft, **(decision.get("fields") or {})}
        return Command(goto="validate", update={"drafts": {agent: edited}})
    reply = AIMessage(speak(agent, "Cancelled; nothing was done."), name=agent)
    return Command(
        goto=END,
        update={"messages": [reply], "drafts": {agent: {}}, "asked": {agent: []}, "active_agent": None},
    )


def _accepts_context(fn: ActFn) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return True
    return len(params) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in params.values())


def effect_scope(meta: dict[str, Any], *, checkpointed: bool) -> str:
    """The part of an effect key that names one execution of ``act``: namespace and step.

    In a checkpointed graph every task id in the namespace comes from a stored checkpoint,
    so a resumed ``act`` gets the same one. Without checkpoints, ``act``'s own task id is
    derived from a checkpoint that was never stored and changes on a re-run; the enclosing
    task's id (from the supervisor's stored checkpoint) and the step do not, so the scope
    keeps those and only ``act``'s name: ``listing:<task id>|act@3``.
    """
    ns, step = str(meta.get("langgraph_checkpoint_ns", "")), meta.get("langgraph_step", "")
    if not checkpointed:
        head, sep, last = ns.rpartition("|")
        ns = f"{head}{sep}{last.split(':', 1)[0]}"
    return f"{ns}@{step}"


def make_act(
    agent: str, schema: type[BaseModel], act_fn: ActFn, ledger: EffectLedger | None = None, *,
    checkpointed: bool = True,
) -> Callable[..., dict]:
    """``act``: run the agent's action once with the validated model; clear the draft.

    ``checkpointed=False``: the agent's graph stores no checkpoints, so a re-run after a
    crash starts it again with new inner task ids; its effect scope then leaves out
    ``act``'s own task id (see :func:`effect_scope`).
    """
    with_ctx = _accepts_context(act_fn)

    def act(state: ConversationState, config: RunnableConfig, runtime: Any = None) -> dict[str, Any]:
        model = schema.model_validate((state.get("drafts") or {}).get(agent) or {})
        configurable = config.get("configurable") or {}
        meta = config.get("metadata") or {}
        ctx = ActContext(
            agent=agent,
            thread_id=str(configurable.get("thread_id", "")),
            user_id=configurable.get("user_id"),
            run_id=configurable.get("run_id"),
            scope=effect_scope(meta, checkpointed=checkpointed),
            store=getattr(runtime, "store", None),
            ledger=ledger or DirectEffects(),
        )
        result = act_fn(model, ctx) if with_ctx else act_fn(model)
        text = speak(agent, "Done." if result is None else str(result))
        return {
            "messages": [AIMessage(text, name=agent)],
            "drafts": {agent: {}},
            "asked": {agent: []},
            "active_agent": None,
            "results": {agent: text},
        }

    return act
