"""The AI SDK UI message stream mapping, without services."""

from __future__ import annotations

import pytest

from agents.aisdk import UIMessageStream, approval_answer, last_user_text, wants_ai_sdk
from agents.run import ChatEvent

pytestmark = pytest.mark.unit


def test_the_protocol_is_chosen_by_accept_parameter_or_query_flag():
    assert wants_ai_sdk("text/event-stream; protocol=ai-sdk", None)
    assert wants_ai_sdk('application/json, text/event-stream;protocol="ai-sdk"', None)
    assert not wants_ai_sdk("text/event-stream", None)
    assert not wants_ai_sdk(None, None)
    assert wants_ai_sdk(None, "ai-sdk")
    assert not wants_ai_sdk("text/event-stream; protocol=ai-sdk", "ours")


def test_the_message_is_the_last_user_text_and_an_answered_approval_resumes():
    messages = [
        {"id": "1", "role": "user", "parts": [{"type": "text", "text": "old"}]},
        {
            "id": "2",
            "role": "user",
            "parts": [{"type": "text", "text": "send "}, {"type": "text", "text": "5"}],
        },
    ]
    assert last_user_text(messages) == "send 5"
    assert approval_answer(messages) is None
    answered = {
        "id": "3",
        "role": "assistant",
        "parts": [
            {
                "type": "tool-wallet_transfer",
                "toolCallId": "c1",
                "state": "approval-responded",
                "approval": {"id": "c1", "approved": False},
            },
        ],
    }
    assert approval_answer([*messages, answered]) == ("c1", False)


def test_events_map_onto_parts_and_text_blocks_close_before_tools():
    stream = UIMessageStream()
    parts = [
        p
        for e in (
            ChatEvent(
                "message.start",
                {"messageId": "m", "sessionId": "s", "agent": "a", "routedBy": "client"},
            ),
            ChatEvent("token", {"text": "Hi"}),
            ChatEvent("token", {"text": "!"}),
            ChatEvent("tool.start", {"toolCallId": "c", "tool": "wallet_balance", "args": {}}),
            ChatEvent(
                "tool.end",
                {
                    "toolCallId": "c",
                    "tool": "wallet_balance",
                    "status": "ok",
                    "result": '{"balance":3}',
                },
            ),
            ChatEvent(
                "tool.end", {"toolCallId": "d", "tool": "x", "status": "denied", "result": ""}
            ),
            ChatEvent(
                "tool.end", {"toolCallId": "e", "tool": "x", "status": "error", "result": "boom"}
            ),
            ChatEvent("token", {"text": "Done"}),
            ChatEvent("message.end", {"messageId": "m", "status": "complete", "usage": {}}),
        )
        for p in stream.parts(e)
    ]
    assert [p["type"] for p in parts] == [
        "start",
        "start-step",
        "text-start",
        "text-delta",
        "text-delta",
        "text-end",
        "tool-input-available",
        "tool-output-available",
        "tool-output-denied",
        "tool-output-error",
        "text-start",
        "text-delta",
        "text-end",
        "finish-step",
        "finish",
    ]
    assert parts[7]["output"] == {"balance": 3}
    assert parts[2]["id"] != parts[10]["id"]
    assert parts[-1]["finishReason"] == "stop"


def test_a_citation_becomes_a_source_document_part():
    cite = {
        "index": 2,
        "noteId": "n",
        "chunkId": "n:h",
        "title": "Zebras",
        "headingPath": ["Budget"],
        "start": 3,
        "end": 9,
    }
    (part,) = UIMessageStream().parts(ChatEvent("citation", cite))
    assert part == {
        "type": "source-document",
        "sourceId": "2",
        "mediaType": "text/markdown",
        "title": "Zebras",
        "providerMetadata": {"secondBrain": cite},
    }
