"""The AsyncAPI 3 document, generated from the same msgspec Structs the code uses.

Frames come from `realtime/protocol.py`; event payloads from the domains' registries
(`EVENT_TYPES: dict[str, type[Struct]]` in `server/<domain>/events.py`, merged by
`server/app.py`). Served at `/schema/asyncapi.json`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from realtime.collab.protocol import CLOSE_CODES as COLLAB_CLOSE_CODES
from realtime.protocol import (
    CLIENT_FRAMES,
    CLOSE_CODES,
    ERROR_CODES,
    SERVER_FRAMES,
    Event,
    Frame,
)

_REF = "#/components/schemas/{name}"


def _frame_tag(frame: type[Frame]) -> str:
    return str(frame.__struct_config__.tag)


def _message_id(name: str) -> str:
    return name.replace(".", "_")


def build_asyncapi(
    *, title: str, version: str, event_types: Mapping[str, type[Any]]
) -> dict[str, Any]:
    payload_types = list(dict.fromkeys(event_types.values()))
    types: list[Any] = [*CLIENT_FRAMES, *SERVER_FRAMES, Event, *payload_types]
    schemas, components = msgspec.json.schema_components(types, ref_template=_REF)
    refs = dict(zip(types, schemas, strict=True))

    messages: dict[str, Any] = {}
    client_ids: list[str] = []
    server_ids: list[str] = []
    frame: type[Frame]
    for frame in CLIENT_FRAMES:
        tag = _frame_tag(frame)
        mid = "client_" + _message_id(tag)
        client_ids.append(mid)
        messages[mid] = {
            "name": tag,
            "title": f"{tag} (client → server)",
            "summary": (frame.__doc__ or "").strip().splitlines()[0] if frame.__doc__ else tag,
            "payload": refs[frame],
        }
    for frame in SERVER_FRAMES:
        tag = _frame_tag(frame)
        mid = "server_" + _message_id(tag)
        server_ids.append(mid)
        messages[mid] = {
            "name": tag,
            "title": f"{tag} (server → client)",
            "summary": (frame.__doc__ or "").strip().splitlines()[0] if frame.__doc__ else tag,
            "payload": refs[frame],
        }

    event_ids: list[str] = []
    for event_type, payload in sorted(event_types.items()):
        mid = "event_" + _message_id(event_type)
        event_ids.append(mid)
        messages[mid] = {
            "name": event_type,
            "title": event_type,
            "summary": (payload.__doc__ or "").strip().splitlines()[0] if payload.__doc__ else "",
            "payload": {
                "allOf": [
                    refs[Event],
                    {
                        "type": "object",
                        "properties": {"type": {"const": event_type}, "data": refs[payload]},
                    },
                ]
            },
        }

    messages["collab_message"] = {
        "name": "y-websocket",
        "title": "y-websocket message (both directions)",
        "summary": "Binary lib0: sync step 1/2, update, awareness, auth (docs/collab.md)",
        "contentType": "application/octet-stream",
        "payload": {"type": "string", "format": "binary"},
    }

    def msg_refs(channel: str, ids: list[str]) -> list[dict[str, str]]:
        return [{"$ref": f"#/channels/{channel}/messages/{mid}"} for mid in ids]

    def channel_messages(ids: list[str]) -> dict[str, Any]:
        return {mid: {"$ref": f"#/components/messages/{mid}"} for mid in ids}

    close_codes = [
        {"code": c.code, "name": c.name, "meaning": c.meaning, "clientAction": c.client_action}
        for c in CLOSE_CODES
    ]
    description = (
        "Real-time delivery. Get a ticket with `POST /api/v1/realtime/ticket`, open "
        "`/ws?ticket=…`, send `subscribe {channel, since?}`; every event carries its "
        "channel's `epoch` and `offset`. Domain events travel inside the `event` frame "
        "(WebSocket) or as unnamed messages (SSE). Close codes: "
        + "; ".join(f"{c.code} {c.name}: {c.meaning}" for c in CLOSE_CODES)
    )
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": f"{title} real-time API",
            "version": version,
            "description": description,
            "x-close-codes": close_codes,
            "x-error-codes": ERROR_CODES,
            "x-collab-close-codes": [
                {"code": code, "meaning": meaning} for code, meaning in COLLAB_CLOSE_CODES.items()
            ],
        },
        "defaultContentType": "application/json",
        "servers": {
            "api": {
                "host": "localhost:8000",
                "protocol": "ws",
                "description": "Use wss:// and https:// in production.",
            }
        },
        "channels": {
            "gateway": {
                "address": "/ws",
                "title": "WebSocket gateway",
                "description": "One socket per client; frames are JSON text tagged by `type`.",
                "messages": channel_messages(client_ids + server_ids),
                "bindings": {
                    "ws": {
                        "method": "GET",
                        "query": {
                            "type": "object",
                            "required": ["ticket"],
                            "properties": {"ticket": {"type": "string"}},
                        },
                    }
                },
            },
            "events": {
                "address": "{channel}",
                "title": "Domain events",
                "description": "Events of a channel (`user:{id}`, `family:{id}`, "
                "`workspace:{id}`), delivered in `event` frames and over SSE.",
                "parameters": {"channel": {"description": "The channel name."}},
                "messages": channel_messages(event_ids),
            },
            "collab": {
                "address": "/ws/notes/{noteId}",
                "title": "Live co-editing of a note (Yjs)",
                "description": "The standard y-websocket protocol on binary frames, same ticket "
                "and Origin rules as `/ws`; close codes in `info.x-collab-close-codes`.",
                "parameters": {"noteId": {"description": "The note's id."}},
                "messages": channel_messages(["collab_message"]),
                "bindings": {
                    "ws": {
                        "method": "GET",
                        "query": {
                            "type": "object",
                            "required": ["ticket"],
                            "properties": {"ticket": {"type": "string"}},
                        },
                    }
                },
            },
            "sse": {
                "address": "/api/v1/events/stream",
                "title": "Server-sent events",
                "description": "`?channels=a,b`; `id:` = `epoch:offset` per channel, "
                "comma-separated in the order of `channels`; resume with Last-Event-ID.",
                "messages": channel_messages(
                    ["server_subscribed", "server_unsubscribed", "server_presence", *event_ids]
                ),
            },
        },
        "operations": {
            "receiveClientFrames": {
                "action": "receive",
                "channel": {"$ref": "#/channels/gateway"},
                "summary": "Frames a client sends",
                "messages": msg_refs("gateway", client_ids),
            },
            "sendServerFrames": {
                "action": "send",
                "channel": {"$ref": "#/channels/gateway"},
                "summary": "Frames the server sends",
                "messages": msg_refs("gateway", server_ids),
            },
            "sendEvents": {
                "action": "send",
                "channel": {"$ref": "#/channels/events"},
                "summary": "Domain events, inside `event` frames",
                "messages": msg_refs("events", event_ids),
            },
            "collabReceive": {
                "action": "receive",
                "channel": {"$ref": "#/channels/collab"},
                "summary": "y-websocket messages a client sends",
                "messages": msg_refs("collab", ["collab_message"]),
            },
            "collabSend": {
                "action": "send",
                "channel": {"$ref": "#/channels/collab"},
                "summary": "y-websocket messages the server sends",
                "messages": msg_refs("collab", ["collab_message"]),
            },
            "sendStream": {
                "action": "send",
                "channel": {"$ref": "#/channels/sse"},
                "messages": msg_refs(
                    "sse", ["server_subscribed", "server_unsubscribed", "server_presence"]
                ),
            },
        },
        "components": {"messages": messages, "schemas": components},
    }
