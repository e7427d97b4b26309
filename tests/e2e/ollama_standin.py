"""A local stand-in for Ollama's HTTP API (not a test module).

It speaks what langchain-ollama's client uses: `POST /api/chat` streaming NDJSON (text
chunks, `tool_calls`, a final `done` line with token counts), `GET /api/tags`,
`POST /api/show`, `POST /api/embed` (bag-of-words vectors, `embed_delay`).
Each `/api/chat` request takes the next scripted answer; requests are recorded, and a client
that goes away mid-stream is noticed (`disconnected_at`).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

Answer = dict[str, Any]  # {"content": str, "tool_calls": [{"name", "arguments"}]}


def answer(content: str = "", tool_calls: list[tuple[str, dict[str, Any]]] | None = None) -> Answer:
    return {"content": content, "tool_calls": tool_calls or []}


EMBED_DIM = 8


def embed_words(text: str) -> list[float]:
    """A deterministic bag-of-words vector: texts sharing words point the same way."""
    vector = [0.0] * EMBED_DIM
    for word in text.lower().split():
        vector[sum(word.encode()) % EMBED_DIM] += 1.0
    return vector


class OllamaStandIn:
    def __init__(
        self, script: list[Answer], *, chunk_delay: float = 0.0, model: str = "llama3.1"
    ) -> None:
        self.script = list(script)
        self.chunk_delay = chunk_delay
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.disconnected_at: float | None = None
        self.chunks_sent = 0
        self.embed_delay = 0.0  # seconds before answering /api/embed (timeouts)
        self.embed_inputs: list[list[str]] = []

    def _line(self, message: dict[str, Any], done: bool, **extra: Any) -> bytes:
        body = {
            "model": self.model,
            "created_at": "2026-01-01T00:00:00Z",
            "message": {"role": "assistant", **message},
            "done": done,
            **extra,
        }
        return (json.dumps(body) + "\n").encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        if path == "/api/tags":
            await self._json(send, {"models": [{"name": self.model, "model": self.model}]})
        elif path == "/api/show":
            await self._json(send, {"modelfile": "", "parameters": "", "template": ""})
        elif path == "/api/embed":
            request = json.loads(body)
            inputs = request["input"] if isinstance(request["input"], list) else [request["input"]]
            self.embed_inputs.append(inputs)
            await asyncio.sleep(self.embed_delay)
            vectors = [embed_words(text) for text in inputs]
            await self._json(send, {"model": request["model"], "embeddings": vectors})
        elif path == "/api/chat":
            self.requests.append(json.loads(body))
            await self._chat(receive, send)
        else:
            await self._json(send, {"error": "not found"}, status=404)

    async def _json(self, send: Any, data: Any, status: int = 200) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(data).encode()})

    async def _chat(self, receive: Any, send: Any) -> None:
        if not self.script:
            await self._json(send, {"error": "the stand-in has no more answers"}, status=500)
            return
        scripted = self.script.pop(0)
        disconnected = asyncio.Event()

        async def watch() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    self.disconnected_at = time.monotonic()
                    disconnected.set()
                    return

        watcher = asyncio.create_task(watch())
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/x-ndjson")],
                }
            )
            words = scripted["content"].split(" ") if scripted["content"] else []
            pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
            for piece in pieces:
                if disconnected.is_set():
                    return
                await send(
                    {
                        "type": "http.response.body",
                        "body": self._line({"content": piece}, False),
                        "more_body": True,
                    }
                )
                self.chunks_sent += 1
                if self.chunk_delay:
                    await asyncio.sleep(self.chunk_delay)
            if scripted["tool_calls"]:
                calls = [
                    {"function": {"name": name, "arguments": args}}
                    for name, args in scripted["tool_calls"]
                ]
                await send(
                    {
                        "type": "http.response.body",
                        "body": self._line({"content": "", "tool_calls": calls}, False),
                        "more_body": True,
                    }
                )
            final = self._line(
                {"content": ""},
                True,
                done_reason="stop",
                total_duration=1000,
                prompt_eval_count=12,
                eval_count=max(1, len(pieces)),
            )
            await send({"type": "http.response.body", "body": final, "more_body": False})
        finally:
            watcher.cancel()
