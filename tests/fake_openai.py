"""A real OpenAI-compatible HTTP server on 127.0.0.1 for tests: scripted answers, recorded requests.

It speaks the parts of ``/v1/chat/completions`` that ``langchain-openai`` uses: plain
replies, streamed replies (SSE), ``response_format`` JSON schema / JSON mode, and tool
calls for the ``function_calling`` structured-output method.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[dict[str, Any]], "str | dict[str, Any] | tuple[int, str]"]
"""Returns the answer: text, a JSON object (or tool arguments), or (status, message) for an error."""


def last_user_text(request: dict[str, Any]) -> str:
    for msg in reversed(request.get("messages", [])):
        if msg.get("role") == "user":
            content = msg.get("content")
            return content if isinstance(content, str) else json.dumps(content)
    return ""


def schema_name(request: dict[str, Any]) -> str | None:
    """The structured-output model the request asks for (from response_format or tools)."""
    fmt = request.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return fmt["json_schema"]["name"]
    tools = request.get("tools") or []
    if tools:
        return tools[0]["function"]["name"]
    if fmt.get("type") == "json_object":  # json_mode: the schema is in the prompt
        for msg in request.get("messages", []):
            text = msg.get("content") if isinstance(msg.get("content"), str) else ""
            if MARK in text:
                return json.loads(text.split(MARK, 1)[1]).get("title")
    return None


MARK = "Reply with JSON matching this schema: "
TOOL_CALLS = "__tool_calls__"
NO_TOOL_CALL = "__no_tool_call__"


class FakeOpenAI:
    """``with FakeOpenAI(responder) as srv: srv.base_url`` — serves until the block ends."""

    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.requests: list[dict[str, Any]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                answer = outer.responder(body)
                if isinstance(answer, tuple):  # (status, message): an error response
                    self._error(*answer)
                    return
                if body.get("stream"):
                    self._stream(body, str(answer))
                else:
                    self._json(_completion(body, answer))

            def _error(self, status: int, message: str) -> None:
                data = json.dumps({"error": {"message": message, "type": "invalid_request_error"}}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _json(self, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, body: dict[str, Any], text: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                words = text.split(" ")
                for i, word in enumerate(words):
                    piece = word if i == len(words) - 1 else word + " "
                    chunk = {
                        "id": "c1",
                        "object": "chat.completion.chunk",
                        "created": int(time.time()),
                        "model": body["model"],
                        "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                    }
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                end = {"id": "c1", "object": "chat.completion.chunk", "created": int(time.time()),
                       "model": body["model"], "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())

        return Handler


def _completion(body: dict[str, Any], answer: str | dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None}
    finish = "stop"
    if isinstance(answer, dict) and TOOL_CALLS in answer:  # {TOOL_CALLS: [{"name", "args"}]}: call tools
        message["tool_calls"] = [
            {"id": f"call_{i}", "type": "function", "function": {"name": c["name"], "arguments": json.dumps(c["args"])}}
            for i, c in enumerate(answer[TOOL_CALLS])
        ]
        finish = "tool_calls"
    elif answer == NO_TOOL_CALL:  # a function_calling answer with neither a tool call nor content
        message["content"] = ""
    elif isinstance(answer, dict) and body.get("tools"):
        name = body["tools"][0]["function"]["name"]
        message["tool_calls"] = [
            {"id": "call_1", "type": "function", "function": {"name": name, "arguments": json.dumps(answer)}}
        ]
        finish = "tool_calls"
    else:
        message["content"] = json.dumps(answer) if isinstance(answer, dict) else answer
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": int(time.time()), "model": body["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }
