"""A full audio turn with no room: espeak-ng speech in, Silero VAD, the real Deepgram
plugins against the local Deepgram-protocol stand-in, the LangGraph agent acting on the
managers, and the agent's voice captured to a WAV file."""

from __future__ import annotations

import asyncio
import socket
import wave
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from prometheus_client import REGISTRY

from agents.documents import ChatMessage
from agents.scripted import ScriptedLLMFactory, call, reply
from agents.voice.config import VoiceConfig
from agents.voice.fileio import PcmInput, WavOutput, read_wav
from agents.voice.session import VoiceAgent, build_session
from agents.voice.transcripts import TranscriptPublisher
from scripts.deepgram_standin import DeepgramStandIn
from tests.agents_support import use_script
from tests.integration.wallet_support import balance
from tests.voice_support import (
    LIVEKIT,
    espeak_wav,
    events_of,
    funded_pair,
    start_voice,
    voice_turns,
)

pytestmark = pytest.mark.integration

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", None}


@pytest.fixture
def no_internet(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Refuse name resolution of anything but this machine: a model download (Silero, a
    turn detector) or a real Deepgram call would fail the test instead of passing silently."""
    refused: list[str] = []
    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in LOCAL_HOSTS:
            refused.append(str(name))
            raise socket.gaierror(f"no internet in this test ({name})")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    return refused


async def until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError("timed out waiting for the voice pipeline")
        await asyncio.sleep(0.05)


def _count(name: str) -> float:
    return REGISTRY.get_sample_value(f"{name}_count") or 0.0


async def test_spoken_transfer_with_spoken_yes(app_factory, tmp_path, no_internet):
    question_wav = espeak_wav("send twenty tokens to bob", tmp_path / "question.wav")
    yes_wav = espeak_wav("yes", tmp_path / "yes.wav")
    async with app_factory(**LIVEKIT) as client:
        alice, bob = await funded_pair(client, 100)
        bob_name = bob["user"]["username"]
        use_script(
            client,
            ScriptedLLMFactory(
                [
                    call("wallet_transfer", {"to_username": bob_name, "amount": 20}),
                    reply("Done. I sent 20 tokens to Bob."),
                ]
            ),
        )
        voice = await start_voice(client, alice, agent="personal")
        turns = voice_turns(client, voice)
        heard = [f"send 20 tokens to {bob_name}", "yes"]
        e2e_before = _count("second_brain_voice_e2e_latency_seconds")
        async with (
            DeepgramStandIn(heard, api_key="dg-test-key") as deepgram,
            aiohttp.ClientSession() as http,
        ):
            config = VoiceConfig(
                deepgram_api_key="dg-test-key",
                deepgram_base_url=deepgram.base_url,
                min_endpointing_delay=0.3,
            )
            session = build_session(config, turns, http_session=http)
            question_pcm, rate = read_wav(question_wav)
            yes_pcm, _ = read_wav(yes_wav)
            mic = PcmInput(sample_rate=rate)
            speaker = WavOutput()
            session.input.audio = mic
            session.output.audio = speaker
            publisher = TranscriptPublisher(services=turns.services, turns=turns)
            publisher.attach(session)
            await session.start(VoiceAgent())
            try:
                await mic.silence(0.3)
                await mic.play(question_pcm)
                await mic.silence(1.2)
                await until(lambda: len(deepgram.log.spoken) >= 1)
                asked = deepgram.log.spoken[0].text
                assert "Say yes or no." in asked and bob_name in asked
                assert await balance(client, alice) == 100  # asked, not done

                await mic.play(yes_pcm)
                await mic.silence(1.2)
                await until(lambda: len(deepgram.log.spoken) >= 2)
                await until(lambda: len(publisher.metrics.turns) >= 2)
                await publisher.drain()
            finally:
                await session.aclose()
                await turns.aclose()
                await publisher.aclose()
                mic.close()

        # What the stand-in heard: two utterances of real (espeak) speech, in order.
        assert [t.text for t in deepgram.log.transcripts] == heard
        assert all(t.speech_seconds > 0.2 for t in deepgram.log.transcripts)
        assert deepgram.log.auth_headers and all(
            h == "Token dg-test-key" for h in deepgram.log.auth_headers
        )
        # What the agent said: the question, then only the answering node's text.
        assert deepgram.log.spoken[1].text == "Done. I sent 20 tokens to Bob."
        # The tool's effect, through the real wallet manager.
        assert await balance(client, alice) == 80
        assert await balance(client, bob) == 20
        # Audio came back, and was captured to a file.
        assert speaker.seconds > 1.0
        out = speaker.write(tmp_path / "agent.wav")
        with wave.open(str(out)) as wav:
            assert wav.getnframes() > wav.getframerate()  # more than a second of audio
        # Transcripts: stored in the chat session, marked voice, and pushed live.
        stored = (
            await ChatMessage.get_pymongo_collection()
            .find({"session_id": _oid(voice.chat_session_id)})
            .sort("_id", 1)
            .to_list()
        )
        assert [(m["role"], m["content"], m.get("channel")) for m in stored] == [
            ("user", f"send 20 tokens to {bob_name}", "voice"),
            ("assistant", "", "voice"),  # paused for the approval
            ("user", "yes", "voice"),
            ("assistant", "Done. I sent 20 tokens to Bob.", "voice"),
        ]
        live = await events_of(client, alice, "voice.transcript")
        assert [e["role"] for e in live] == ["user", "assistant", "user", "assistant"]
        assert live[3]["text"] == "Done. I sent 20 tokens to Bob."
        # Per-turn metrics: recorded and exported to Prometheus.
        last = publisher.metrics.turns[-1]
        assert last.eou_delay is not None and last.eou_delay >= 0.3
        assert last.llm_ttft is not None and last.tts_ttfb is not None
        assert last.e2e_latency is not None and last.e2e_latency > 0
        assert _count("second_brain_voice_e2e_latency_seconds") >= e2e_before + 2
        # Nothing left this machine (no model download, no real Deepgram).
        assert no_internet == []


def _oid(value: str) -> Any:
    from bson import ObjectId

    return ObjectId(value)
