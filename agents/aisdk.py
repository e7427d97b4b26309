"""The chat answer in the Vercel AI SDK UI message stream protocol (v1).

`POST /api/v1/chat/sessions/{id}/messages` answers in this format instead of our own SSE
events when the request says `Accept: text/event-stream; protocol=ai-sdk` or `?protocol=
ai-sdk` (for `useChat`, whose transport sets no Accept parameter: `new
DefaultChatTransport({api: ".../messages?protocol=ai-sdk", headers})`). The body may be the
AI SDK's own (`{id, messages, trigger, messageId}`): the text of the last user message is
the message; a last assistant message holding a tool part in state `approval-responded`
answers that approval and resumes the run, exactly like our approvals endpoint.

Frames are `data: <JSON>` lines, ended by `data: [DONE]`; the response carries
`x-vercel-ai-ui-message-stream: v1`. Our events map onto parts: message.start -> `start`
(+ `start-step`), token -> `text-start`/`text-delta`/`text-end`, tool.start ->
`tool-input-available`, tool.end -> `tool-output-available` | `tool-output-error` |
`tool-output-denied`, approval_required -> `tool-input-available` + `tool-approval-request`
(the approval id is the tool call id), message.end -> `finish-step` + `finish`, error ->
`error`, citation -> `source-document` (`sourceId` = the citation's `[index]`, the title,
`text/markdown`, and the whole citation under `providerMetadata.secondBrain`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from contextlib import aclosing
from typing import Any

import msgspec

from agents.run import ChatEvent, ChatRun

PROTOCOL = "ai-sdk"
HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
    "x-vercel-ai-ui-message-stream": "v1",
}
DONE = b"data: [DONE]\n\n"
_encode = msgspec.json.Encoder().encode


def wants_ai_sdk(accept: str | None, protocol: str | None) -> bool:
    """True for `Accept: text/event-stream; protocol=ai-sdk` or `?protocol=ai-sdk`."""
    if protocol is not None:
        return protocol == PROTOCOL
    for item in (accept or "").split(","):
        params = [p.strip().lower().replace(" ", "") for p in item.split(";")[1:]]
        if f"protocol={PROTOCOL}" in params or f'protocol="{PROTOCOL}"' in params:
            return True
    return False


def last_user_text(messages: Iterable[dict[str, Any]] | None) -> str:
    """The text parts of the last user message, joined."""
    for message in reversed(list(messages or [])):
        if isinstance(message, dict) and message.get("role") == "user":
            parts = message.get("parts") or []
            texts = [
                str(p.get("text", ""))
                for p in parts
                if isinstance(p, dict) and p.get("type") == "text"
            ]
            return "".join(texts)
    return ""


def approval_answer(messages: Iterable[dict[str, Any]] | None) -> tuple[str, bool] | None:
    """(approvalId, approved) when the last message is an assistant message answering one of
    our `tool-approval-request`s (`addToolApprovalResponse` on the client)."""
    items = list(messages or [])
    if not items or not isinstance(items[-1], dict) or items[-1].get("role") != "assistant":
        return None
    for part in reversed(items[-1].get("parts") or []):
        if not isinstance(part, dict) or part.get("state") != "approval-responded":
            continue
        approval = part.get("approval")
        if isinstance(approval, dict) and isinstance(approval.get("id"), str):
            return approval["id"], approval.get("approved") is True
    return None


def _frame(part: dict[str, Any]) -> bytes:
    return b"data: " + _encode(part) + b"\n\n"


class UIMessageStream:
    """Turns one run's events into UI message stream parts (stateful: open text blocks)."""

    def __init__(self) -> None:
        self._text_id: str | None = None
        self._blocks = 0

    def _close_text(self) -> list[dict[str, Any]]:
        if self._text_id is None:
            return []
        part = {"type": "text-end", "id": self._text_id}
        self._text_id = None
        return [part]

    def parts(self, event: ChatEvent) -> list[dict[str, Any]]:
        data = event.data
        kind = event.type
        if kind == "message.start":
            meta = {k: data[k] for k in ("sessionId", "agent", "routedBy") if k in data}
            return [
                {"type": "start", "messageId": data["messageId"], "messageMetadata": meta},
                {"type": "start-step"},
            ]
        if kind == "token":
            out: list[dict[str, Any]] = []
            if self._text_id is None:
                self._blocks += 1
                self._text_id = f"text-{self._blocks}"
                out.append({"type": "text-start", "id": self._text_id})
            out.append({"type": "text-delta", "id": self._text_id, "delta": data["text"]})
            return out
        if kind == "tool.start":
            return [
                *self._close_text(),
                {
                    "type": "tool-input-available",
                    "toolCallId": data["toolCallId"],
                    "toolName": data["tool"],
                    "input": data.get("args") or {},
                },
            ]
        if kind == "tool.end":
            call = data["toolCallId"]
            if data["status"] == "ok":
                return [
                    {
                        "type": "tool-output-available",
                        "toolCallId": call,
                        "output": _json_or_text(data.get("result")),
                    }
                ]
            if data["status"] == "denied":
                return [{"type": "tool-output-denied", "toolCallId": call}]
            return [
                {
                    "type": "tool-output-error",
                    "toolCallId": call,
                    "errorText": str(data.get("result", "")),
                }
            ]
        if kind == "approval_required":
            call = data["approvalId"]
            return [
                *self._close_text(),
                {
                    "type": "tool-input-available",
                    "toolCallId": call,
                    "toolName": data["tool"],
                    "input": data.get("args") or {},
                },
                {"type": "tool-approval-request", "approvalId": call, "toolCallId": call},
            ]
        if kind == "message.end":
            reason = "tool-calls" if data.get("status") == "awaiting_approval" else "stop"
            return [
                *self._close_text(),
                {"type": "finish-step"},
                {
                    "type": "finish",
                    "finishReason": reason,
                    "messageMetadata": {"status": data.get("status"), "usage": data.get("usage")},
                },
            ]
        if kind == "citation":
            return [
                {
                    "type": "source-document",
                    "sourceId": str(data["index"]),
                    "mediaType": "text/markdown",
                    "title": data.get("title") or "Untitled",
                    "providerMetadata": {"secondBrain": data},
                }
            ]
        if kind == "error":
            return [*self._close_text(), {"type": "error", "errorText": data.get("message", "")}]
        return []


def _json_or_text(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


async def ui_chunks(run: ChatRun) -> AsyncIterator[bytes]:
    """The run as UI message stream frames, several ready events in one write."""
    stream = UIMessageStream()
    async with aclosing(run.batches()) as batches:
        async for batch in batches:
            yield b"".join(_frame(p) for event in batch for p in stream.parts(event))
    yield DONE
