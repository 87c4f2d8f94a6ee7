"""Bad input to the Platform routes: a 4xx JSON answer saying what is wrong, never a 500, nothing stored."""

from __future__ import annotations

import httpx

from tests.platform.conftest import say, sdk
from tests.server_kit import TOKENS


def test_bad_requests_get_4xx_and_change_nothing(storefront):
    c = sdk(storefront)
    tid = c.threads.create()["thread_id"]
    h = {"X-Api-Key": TOKENS["alice"]}
    url = f"{storefront.url}/threads/{tid}/runs/wait"
    cases = [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 422, "JSON object"),
        (b'{"assistant_id": "nope", "input": null}', 404, "storefront"),
        (b'{"assistant_id": "storefront", "input": {"messages": []}}', 422, "no user message"),
        (b'{"assistant_id": "storefront", "input": {"x": 1}}', 422, "input must be"),
        (b'{"assistant_id": "storefront", "stream_mode": "tasks", "input": null}', 422, "stream_mode"),
        (b'{"assistant_id": "storefront", "multitask_strategy": "later", "input": null}', 422, "multitask_strategy"),
        (b'{"assistant_id": "storefront", "command": {"resume": 42}}', 422, "command.resume"),
        (b'{"assistant_id": "storefront", "checkpoint_id": "1ef-old", "input": null}', 422, "head"),
        (b'{"assistant_id": "storefront", "input": null}', 409, "nothing to resume"),
        (b'{"assistant_id": "storefront", "webhook": "http://x", "input": null}', 422, "webhook"),
    ]
    for body, status, says in cases:
        r = httpx.post(url, content=body, headers={**h, "Content-Type": "application/json"})
        assert r.status_code == status, (body, r.text)
        assert says in r.json()["error"]["message"], (body, r.text)
    assert c.runs.list(tid) == [] and c.threads.get_state(tid)["values"] == {}
    assert httpx.post(f"{storefront.url}/threads/search", json={"limit": 0}, headers=h).status_code == 422
    assert httpx.post(f"{storefront.url}/threads", json={"thread_id": "bad id!"}, headers=h).status_code == 400
    assert httpx.get(f"{storefront.url}/threads/{tid}/state/no-such-ckpt", headers=h).status_code == 404
    assert httpx.get(f"{storefront.url}/threads/{tid}/runs/nope", headers=h).status_code == 404


def test_stateless_run_head_checkpoint_and_schemas(storefront):
    c = sdk(storefront)
    values = c.runs.wait(None, "storefront", input=say("what were our sales?"))
    assert values["messages"][-1]["type"] == "ai"
    tid = c.threads.create()["thread_id"]
    c.runs.wait(tid, "storefront", input=say("what were our sales?"))
    head = c.threads.get_state(tid)["checkpoint"]
    again = c.runs.wait(tid, "storefront", input=say("best sellers?"), checkpoint=head)  # a chat UI's resend
    assert len(again["messages"]) == 4
    schemas = c.assistants.get_schemas("storefront")
    assert "messages" in schemas["input_schema"]["properties"]
