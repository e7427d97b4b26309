"""A local Deepgram-protocol stand-in: streaming STT (`/v1/listen`) and TTS (`/v1/speak`).

Not an ASR and not a synthesiser: it speaks Deepgram's wire protocol so the real
`livekit-plugins-deepgram` client code runs end to end, with no network and fixed latencies.

- `GET /v1/listen` (WebSocket): linear16 audio in; a simple energy detector finds the
  utterances. `SpeechStarted` when one begins; when it has been followed by
  `endpoint_silence` seconds of silence (or the client sends `Finalize`) a final `Results`
  message (`is_final`, `speech_final`) carries the next scripted transcript. `KeepAlive` is
  ignored; `CloseStream` answers a `Metadata` message and closes.
- `POST /v1/speak` (HTTP): `{"text": ...}` in, raw linear16 audio out.
- `GET /v1/speak` (WebSocket): `Speak {text}` messages accumulate; `Flush` answers the
  audio (binary) then `Flushed`; `Clear` answers `Cleared`; `Close` closes.

The audio is a tone whose length follows the text (`tts_seconds_per_char`), so a test can
check that audio came back and how much. Every transcript sent and every text spoken is
recorded with a `time.monotonic()` stamp (the bench compares them with the agent's).

Run it alone for local development of the voice worker without a Deepgram account:

    .venv/bin/python -m scripts.deepgram_standin --port 8765 --say "what's my balance"
    DEEPGRAM_BASE_URL=http://127.0.0.1:8765 DEEPGRAM_API_KEY=dev python -m server.compose.voice dev
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import struct
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

Transcripts = Callable[[], str] | Iterable[str]


@dataclass
class SentTranscript:
    text: str
    at: float  # time.monotonic() when the final Results message was sent
    speech_seconds: float  # how much voiced audio the utterance had
    from_finalize: bool


@dataclass
class SpokenText:
    text: str
    first_text_at: float  # time.monotonic() of the first `Speak` (or the POST) for this text
    audio_bytes: int
    sample_rate: int


@dataclass
class StandInLog:
    transcripts: list[SentTranscript] = field(default_factory=list)
    spoken: list[SpokenText] = field(default_factory=list)
    speaks: list[tuple[str, float]] = field(default_factory=list)  # each `Speak`, stamped
    audio_in_seconds: float = 0.0
    listen_connections: int = 0
    speak_connections: int = 0
    auth_headers: list[str] = field(default_factory=list)


def tone(seconds: float, sample_rate: int, freq: float = 220.0) -> bytes:
    """A quiet sine tone as linear16 mono PCM."""
    count = max(1, int(seconds * sample_rate))
    step = 2 * math.pi * freq / sample_rate
    return struct.pack(f"<{count}h", *(int(6000 * math.sin(step * i)) for i in range(count)))


def rms16(chunk: bytes) -> float:
    count = len(chunk) // 2
    if not count:
        return 0.0
    samples = struct.unpack(f"<{count}h", chunk[: count * 2])
    return math.sqrt(sum(s * s for s in samples) / count)


class DeepgramStandIn:
    """`async with DeepgramStandIn(["what's my balance"]) as dg:` → `dg.base_url`."""

    def __init__(
        self,
        transcripts: Transcripts = (),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        endpoint_silence: float = 0.3,
        stt_final_delay: float = 0.0,
        tts_ttfb: float = 0.0,
        tts_seconds_per_char: float = 0.04,
        speech_rms: float = 300.0,
    ) -> None:
        self._script: Callable[[], str]
        if callable(transcripts):
            self._script = transcripts
        else:
            queue = deque(transcripts)
            self._script = lambda: queue.popleft() if queue else ""
        self.host = host
        self.port = port
        self.api_key = api_key
        self.endpoint_silence = endpoint_silence
        self.stt_final_delay = stt_final_delay
        self.tts_ttfb = tts_ttfb
        self.tts_seconds_per_char = tts_seconds_per_char
        self.speech_rms = speech_rms
        self.log = StandInLog()
        self._runner: web.AppRunner | None = None
        self._sockets: set[web.WebSocketResponse] = set()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def listen_url(self) -> str:
        return f"{self.base_url}/v1/listen"

    @property
    def speak_url(self) -> str:
        return f"{self.base_url}/v1/speak"

    async def start(self) -> DeepgramStandIn:
        app = web.Application()
        app.router.add_get("/v1/listen", self._listen)
        app.router.add_get("/v1/speak", self._speak_ws)
        app.router.add_post("/v1/speak", self._speak_http)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        if self.port == 0 and server is not None:
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self

    async def stop(self) -> None:
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DeepgramStandIn:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        self.log.auth_headers.append(header)
        scheme, _, key = header.partition(" ")
        if scheme != "Token" or not key:
            return False
        return self.api_key is None or key == self.api_key

    # --- STT -------------------------------------------------------------------------------

    async def _listen(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            raise web.HTTPUnauthorized(text='{"err_code":"INVALID_AUTH"}')
        sample_rate = int(request.query.get("sample_rate", "16000"))
        channels = int(request.query.get("channels", "1"))
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        self._sockets.add(ws)
        self.log.listen_connections += 1
        request_id = str(uuid.uuid4())
        bytes_per_second = sample_rate * channels * 2
        state = {"speaking": False, "voiced": 0.0, "silence": 0.0, "clock": 0.0, "start": 0.0}
        pending: set[asyncio.Task[None]] = set()

        async def send_final(from_finalize: bool) -> None:
            speech = state["voiced"]
            start, end = state["start"], state["clock"]
            state.update(speaking=False, voiced=0.0, silence=0.0)
            text = self._script()
            if self.stt_final_delay:
                await asyncio.sleep(self.stt_final_delay)
            await ws.send_str(json.dumps(results(text, request_id, start, end, from_finalize)))
            self.log.transcripts.append(
                SentTranscript(text, time.monotonic(), speech, from_finalize)
            )

        def schedule_final(from_finalize: bool) -> None:
            task = asyncio.ensure_future(send_final(from_finalize))
            pending.add(task)
            task.add_done_callback(pending.discard)

        try:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    chunk: bytes = msg.data
                    seconds = len(chunk) / bytes_per_second
                    self.log.audio_in_seconds += seconds
                    state["clock"] += seconds
                    loud = rms16(chunk) >= self.speech_rms
                    if loud:
                        if not state["speaking"]:
                            state.update(speaking=True, start=state["clock"] - seconds)
                            await ws.send_str(
                                json.dumps(
                                    {
                                        "type": "SpeechStarted",
                                        "channel": [0],
                                        "timestamp": state["start"],
                                    }
                                )
                            )
                        state["voiced"] += seconds
                        state["silence"] = 0.0
                    elif state["speaking"]:
                        state["silence"] += seconds
                        if state["silence"] >= self.endpoint_silence:
                            schedule_final(False)
                elif msg.type == WSMsgType.TEXT:
                    kind = json.loads(msg.data).get("type")
                    if kind == "Finalize" and state["speaking"]:
                        schedule_final(True)
                    elif kind == "CloseStream":
                        await ws.send_str(
                            json.dumps(
                                {
                                    "type": "Metadata",
                                    "request_id": request_id,
                                    "duration": state["clock"],
                                    "channels": channels,
                                }
                            )
                        )
                        break
        finally:
            for task in list(pending):
                with contextlib.suppress(Exception):
                    await task
            self._sockets.discard(ws)
            await ws.close()
        return ws

    # --- TTS -------------------------------------------------------------------------------

    def _speech(self, text: str, sample_rate: int) -> bytes:
        return tone(max(0.1, len(text.strip()) * self.tts_seconds_per_char), sample_rate)

    async def _speak_http(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            raise web.HTTPUnauthorized(text='{"err_code":"INVALID_AUTH"}')
        started = time.monotonic()
        sample_rate = int(request.query.get("sample_rate", "24000"))
        text = str((await request.json()).get("text", ""))
        if self.tts_ttfb:
            await asyncio.sleep(self.tts_ttfb)
        audio = self._speech(text, sample_rate)
        response = web.StreamResponse(headers={"Content-Type": "audio/l16"})
        await response.prepare(request)
        for offset in range(0, len(audio), 4800):
            await response.write(audio[offset : offset + 4800])
        await response.write_eof()
        self.log.spoken.append(SpokenText(text, started, len(audio), sample_rate))
        return response

    async def _speak_ws(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            raise web.HTTPUnauthorized(text='{"err_code":"INVALID_AUTH"}')
        sample_rate = int(request.query.get("sample_rate", "24000"))
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        self._sockets.add(ws)
        self.log.speak_connections += 1
        await ws.send_str(json.dumps({"type": "Metadata", "request_id": str(uuid.uuid4())}))
        text = ""
        first_at = 0.0
        flushes = 0
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                kind = data.get("type")
                if kind == "Speak":
                    self.log.speaks.append((str(data.get("text", "")), time.monotonic()))
                    if not text:
                        first_at = time.monotonic()
                    text += str(data.get("text", ""))
                elif kind == "Flush":
                    flushes += 1
                    if text.strip():
                        if self.tts_ttfb:
                            await asyncio.sleep(self.tts_ttfb)
                        audio = self._speech(text, sample_rate)
                        for offset in range(0, len(audio), 4800):
                            await ws.send_bytes(audio[offset : offset + 4800])
                        self.log.spoken.append(
                            SpokenText(text.strip(), first_at, len(audio), sample_rate)
                        )
                    await ws.send_str(json.dumps({"type": "Flushed", "sequence_id": flushes}))
                    text = ""
                elif kind == "Clear":
                    text = ""
                    await ws.send_str(json.dumps({"type": "Cleared", "sequence_id": flushes}))
                elif kind == "Close":
                    break
        finally:
            self._sockets.discard(ws)
            await ws.close()
        return ws


def results(
    text: str, request_id: str, start: float, end: float, from_finalize: bool
) -> dict[str, Any]:
    words = text.split()
    span = (end - start) / max(1, len(words))
    return {
        "type": "Results",
        "channel_index": [0, 1],
        "duration": end - start,
        "start": start,
        "is_final": True,
        "speech_final": True,
        "from_finalize": from_finalize,
        "channel": {
            "alternatives": [
                {
                    "transcript": text,
                    "confidence": 0.99,
                    "words": [
                        {
                            "word": w.lower().strip(".,?!"),
                            "punctuated_word": w,
                            "start": start + i * span,
                            "end": start + (i + 1) * span,
                            "confidence": 0.99,
                        }
                        for i, w in enumerate(words)
                    ],
                }
            ]
        },
        "metadata": {"request_id": request_id, "model_info": {"name": "stand-in"}},
    }


async def _serve(args: argparse.Namespace) -> None:
    said = list(args.say or [])
    script = (lambda: said.pop(0) if said else args.default) if said else (lambda: args.default)
    async with DeepgramStandIn(script, host=args.host, port=args.port) as standin:
        print(f"Deepgram stand-in on {standin.base_url} (STT {standin.listen_url})", flush=True)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--say", action="append", help="transcripts, in order (repeatable)")
    parser.add_argument("--default", default="what is my balance", help="after --say runs out")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
