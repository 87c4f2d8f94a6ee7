"""Node factories for an agent graph: ``collect -> validate -> act``."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END
from langgraph.types import Command, interrupt
from pydantic import BaseModel, ValidationError

from ._context import ActContext, DirectEffects, EffectLedger
from ._extract import choice_values
from ._intent import is_cancel, is_no, is_yes
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


CANCELLED = "Cancelled; nothing was done."


def last_question(state: ConversationState, agent: str) -> str:
    """The text of ``agent``'s latest message, if the conversation's last reply is its own."""
    for msg in reversed(state.get("messages") or []):
        if isinstance(msg, AIMessage):
            return str(msg.content) if getattr(msg, "name", None) == agent else ""
    return ""


def cancel_update(agent: str, text: str = CANCELLED) -> dict[str, Any]:
    """Clear ``agent``'s draft and say so."""
    return {
        "messages": [AIMessage(speak(agent, text), name=agent)],
        "drafts": {agent: {}}, "asked": {agent: []}, "confirming": {agent: ""}, "prefill": {agent: None},
        "held": {agent: []}, "active_agent": None,
    }


def _extractor(provider: ModelProvider) -> Callable[..., dict[str, Any]]:
    """``provider.extract``, given the question the user answers when it takes one."""
    try:
        takes_question = "question" in inspect.signature(provider.extract).parameters
    except (TypeError, ValueError):
        takes_question = False

    def extract(schema: type[BaseModel], text: str, draft: dict, asked: list, question: str) -> dict[str, Any]:
        if takes_question:
            return provider.extract(schema, text, draft=draft, asked=asked, question=question)  # type: ignore[call-arg]
        return provider.extract(schema, text, draft=draft, asked=asked)

    return extract


def deep_merge(draft: dict[str, Any], found: dict[str, Any]) -> dict[str, Any]:
    """``found`` over ``draft``; nested dicts (sub-models) merge field by field."""
    out = dict(draft)
    for key, value in found.items():
        old = out.get(key)
        out[key] = deep_merge(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
    return out


def make_collect(
    agent: str, schema: type[BaseModel], provider: ModelProvider, *,
    version: int = 1, migrate: Callable[[dict[str, Any], int], dict[str, Any]] | None = None,
) -> Callable[..., Command]:
    """``collect``: merge the fields the latest message states into the agent's draft.

    Before extracting: "cancel" / "start over" / "never mind" clear the draft and end the
    turn; "yes" to a confirmation goes on to ``act``; a draft stored under an older schema
    ``version`` is migrated first (:func:`migrate_draft`). Messages held while the agent
    was paused are read before the new one.
    """
    extract = _extractor(provider)

    def collect(state: ConversationState) -> Command:
        text = latest_user_text(state)
        trail = [n for n in (state.get("trail") or []) if n != agent] + [agent]
        base: dict[str, Any] = {"active_agent": agent, "trail": trail}
        if is_cancel(text):
            return Command(goto=END, update={**cancel_update(agent), "trail": trail})
        draft = dict((state.get("drafts") or {}).get(agent) or {})
        stored = (state.get("versions") or {}).get(agent, 1)
        if stored != version:
            draft = migrate_draft(schema, draft, stored, migrate)
        base["versions"] = {agent: version}
        confirming = (state.get("confirming") or {}).get(agent) or ""
        if confirming == "asked" and is_yes(text):
            return Command(goto="validate", update={**base, "drafts": {agent: draft}, "confirming": {agent: "yes"}})
        if confirming == "asked" and is_no(text):
            not_done = "OK, I have not done it. Tell me what to change, or say cancel."
            reply = AIMessage(speak(agent, not_done), name=agent)
            return Command(goto=END, update={**base, "messages": [reply], "confirming": {agent: ""}})
        asked = (state.get("asked") or {}).get(agent) or []
        prefill = (state.get("prefill") or {}).get(agent)
        held = (state.get("held") or {}).get(agent) or []
        for old in held:
            draft = deep_merge(draft, extract(schema, old, draft, [], ""))
        if isinstance(prefill, dict) and prefill.get("text") == text:
            found = dict(prefill.get("fields") or {})
        else:
            found = extract(schema, text, draft, asked, last_question(state, agent))
        update = {**base, "drafts": {agent: deep_merge(draft, found)}, "confirming": {agent: ""}}
        if prefill is not None:
            update["prefill"] = {agent: None}
        if held:
            update["held"] = {agent: []}
        return Command(goto="validate", update=update)

    return collect


def migrate_draft(
    schema: type[BaseModel], draft: dict[str, Any], stored: int,
    migrate: Callable[[dict[str, Any], int], dict[str, Any]] | None,
) -> dict[str, Any]:
    """A draft written under schema version ``stored``, fitted to the current ``schema``.

    ``migrate(draft, stored)`` runs first when declared (renames, conversions). Then, and
    also when it fails, every value the current schema rejects (an unknown key, a retyped
    field) is dropped, so the agent asks for it again instead of the thread crashing.
    """
    if migrate is not None:
        try:
            moved = migrate(dict(draft), stored)
            draft = dict(moved) if isinstance(moved, dict) else draft
        except Exception as exc:  # noqa: BLE001 - a broken migration must not break the thread
            logging.getLogger("stateline").warning(
                "draft migration from version %s failed (%s); using defaults", stored, exc
            )
    kept = {k: v for k, v in draft.items() if k in schema.model_fields}
    try:
        schema.model_validate(kept)
    except ValidationError as exc:
        for err in exc.errors():
            if err["type"] != "missing" and err["loc"] and err["loc"][0] in kept:
                kept.pop(str(err["loc"][0]), None)
    return kept


def _hint(schema: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """The field's description, and its allowed values when the description does not list them."""
    info = schema.model_fields.get(str(loc[0])) if loc else None
    if info is None:
        return ""
    desc = info.description or ""
    choices = [str(c) for c in choice_values(info.annotation)]
    if choices and not all(c in desc for c in choices):
        desc = f"{desc}; " if desc else ""
        desc += "one of " + ", ".join(choices)
    return f" ({desc})" if desc else ""


def describe_problems(schema: type[BaseModel], draft: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Validate ``draft``: (fields to ask for, plain-words problems). Both empty means valid.

    A missing choice field lists its allowed values; a nested field is named ``outer.inner``.
    """
    try:
        schema.model_validate(draft)
    except ValidationError as exc:
        fields: list[str] = []
        problems: list[str] = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if isinstance(p, str))
            name = ".".join(loc) if loc else "value"
            if name not in fields:
                fields.append(name)
            if err["type"] == "missing":
                problems.append(f"{name}{_hint(schema, loc) if len(loc) == 1 else ''}")
            else:
                reason = err["msg"].replace("Input should be", "must be").replace("Value error, ", "")
                problems.append(f"{name} {reason} (you gave {err.get('input')!r})")
        return fields, problems
    return [], []


def ask_message(agent: str, description: str, problems: list[str]) -> str:
    """The question that ends a turn when the draft is not yet valid."""
    listed = "; ".join(problems)
    return f"To {description[0].lower() + description[1:].rstrip('.')}, I still need: {listed}."


def confirm_message(description: str, model: BaseModel) -> str:
    """The values an agent is about to act on, and how to answer."""
    values = ", ".join(f"{k}: {v}" for k, v in model.model_dump().items())
    what = description[0].lower() + description[1:].rstrip(".")
    return f"Please confirm ({what}) — {values}. Reply yes to go ahead, change a value, or say cancel."


def make_validate(
    agent: str, schema: type[BaseModel], description: str, *, approval: bool, confirm: bool = False
) -> Callable[..., Command]:
    """``validate``: go on to ``act`` when the draft is valid, else ask for exactly what is wrong.

    The question is a template on every provider: it must name each field and pydantic's
    reason exactly, which a model's paraphrase cannot be trusted to keep.

    With ``confirm``, a valid draft is first shown to the user, and ``act`` runs only on
    their "yes" (handled by ``collect`` in the next turn). With ``approval``, a valid draft
    pauses the thread with ``interrupt()`` until a person approves, rejects or edits it
    (edits are validated again).
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
        if confirm and (state.get("confirming") or {}).get(agent) != "yes":
            text = speak(agent, confirm_message(description, schema.model_validate(draft)))
            return Command(
                goto=END,
                update={"messages": [AIMessage(text, name=agent)], "asked": {agent: []},
                        "confirming": {agent: "asked"}, "active_agent": agent},
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


def run_awaitable(awaitable: Any) -> Any:
    """The result of an ``async def act``: run on this thread, or on a helper thread when a loop runs here."""
    import asyncio

    async def wait() -> Any:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wait())
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, wait()).result()


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
    checkpointed: bool = True, tools: Sequence[Any] = (), chat_model: Any = None,
) -> Callable[..., dict]:
    """``act``: run the agent's action once with the validated model; clear the draft.

    ``checkpointed=False``: the agent's graph stores no checkpoints, so a re-run after a
    crash starts it again with new inner task ids; its effect scope then leaves out
    ``act``'s own task id (see :func:`effect_scope`). ``tools`` and ``chat_model`` back
    ``ctx.use_tools`` (see :mod:`stateline.nodes._plugin`). An ``async def`` action is awaited.
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
            tools=tuple(tools),
            model=chat_model,
        )
        result = act_fn(model, ctx) if with_ctx else act_fn(model)
        if inspect.isawaitable(result):
            result = run_awaitable(result)
        text = speak(agent, "Done." if result is None else str(result))
        return {
            "messages": [AIMessage(text, name=agent)],
            "drafts": {agent: {}},
            "asked": {agent: []},
            "confirming": {agent: ""},
            "active_agent": None,
            "results": {agent: text},
        }

    return act
