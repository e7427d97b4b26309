"""Voice agent logic that needs no services: yes/no, the spoken question, dispatch
metadata, per-turn metrics, and the session's turn handling."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from bson import ObjectId
from livekit.agents import llm
from prometheus_client import REGISTRY

from agents.voice.approvals import approval_prompt, parse_yes_no, spoken_action
from agents.voice.config import VoiceConfig
from agents.voice.metrics import TurnMetricsRecorder
from agents.voice.session import build_session
from agents.voice.tokens import (
    DispatchMetadata,
    InvalidDispatch,
    decode_metadata,
    encode_metadata,
    mint_token,
    room_name,
)
from server.core.actor import Actor

pytestmark = pytest.mark.unit

SECRET = "unit-secret-0123456789abcdef0123456789"


@pytest.mark.parametrize(
    ("said", "meaning"),
    [
        ("yes", True),
        ("Yes, go ahead.", True),
        ("yeah sure", True),
        ("okay do it", True),
        ("no", False),
        ("No thanks", False),
        ("don\u2019t do that", False),  # a typographic apostrophe
        ("yes... no, wait", False),  # a "no" anywhere wins
        ("do not send it", False),
        ("cancel", False),
        ("hmm, let me think", None),
        ("what's the weather", None),
        ("", None),
    ],
)
def test_parse_yes_no(said: str, meaning: bool | None) -> None:
    assert parse_yes_no(said) is meaning


def test_the_question_names_the_exact_action() -> None:
    args = {"to_username": "mom", "amount": 20, "memo": None}
    assert spoken_action("wallet_transfer", args) == "wallet transfer: to username mom, amount 20"
    prompt = approval_prompt("family_freeze", {"reason": "lost card"})
    assert "family freeze: reason lost card" in prompt and prompt.endswith("Say yes or no.")


def _meta(**changes: object) -> DispatchMetadata:
    values: dict[str, object] = {
        "user_id": "a" * 24,
        "username": "alice",
        "chat_session_id": "b" * 24,
        "room": room_name("a" * 24, "b" * 24),
        "agent": None,
        "expires_at": int(time.time()) + 300,
    }
    values.update(changes)
    return DispatchMetadata(**values)  # type: ignore[arg-type]


def test_dispatch_metadata_round_trip_and_refusals() -> None:
    meta = _meta(scopes=("wallet:read",))
    assert decode_metadata(encode_metadata(meta, SECRET), SECRET) == meta
    stale = _meta(expires_at=int(time.time()) - 7200)
    with pytest.raises(InvalidDispatch, match="expired"):
        decode_metadata(encode_metadata(stale, SECRET), SECRET)
    elsewhere = _meta(room="voice-someone-else")
    with pytest.raises(InvalidDispatch, match="another room"):
        decode_metadata(encode_metadata(elsewhere, SECRET), SECRET)


def test_token_expiry_is_whole_seconds_and_url_is_the_public_one() -> None:
    config = VoiceConfig(
        livekit_url="ws://livekit:7880",
        livekit_public_url="wss://voice.example.com",
        livekit_api_key="key",
        livekit_api_secret=SECRET,
        token_ttl_seconds=120,
    )
    actor = Actor(user_id=ObjectId(), username="alice", session_id="s1")
    now = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    grant = mint_token(config, actor, "c" * 24, "personal", now=now)
    assert grant.expires_at == (now + timedelta(seconds=120)).replace(microsecond=0)
    assert grant.url == "wss://voice.example.com"
    assert grant.room == f"voice-{actor.user_id}-{'c' * 24}"


def _sample(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def test_turn_metrics_pair_user_and_agent_items_and_export() -> None:
    recorder = TurnMetricsRecorder(chat_session_id="x")
    before = _sample("second_brain_voice_llm_ttft_seconds_count")
    assert recorder.on_item("user", {"end_of_turn_delay": 0.41, "transcription_delay": 0.2}) is None
    turn = recorder.on_item(
        "assistant", {"llm_node_ttft": 0.3, "tts_node_ttfb": 0.12, "e2e_latency": 0.9}
    )
    assert turn is not None
    assert (turn.eou_delay, turn.llm_ttft, turn.tts_ttfb, turn.e2e_latency) == (
        0.41,
        0.3,
        0.12,
        0.9,
    )
    # An agent message without a user turn before it (a greeting) has no EOU delay.
    greeting = recorder.on_item("assistant", {"tts_node_ttfb": 0.1})
    assert greeting is not None and greeting.eou_delay is None and greeting.llm_ttft is None
    assert _sample("second_brain_voice_llm_ttft_seconds_count") == before + 1
    assert len(recorder.turns) == 2


class _NoLLM(llm.LLM):
    def chat(self, **_: object):  # type: ignore[override]
        raise NotImplementedError


async def test_session_never_generates_before_the_turn_is_final() -> None:
    """Regression: LiveKit's default preemptive generation runs the LLM on a transcript that
    may still change; our "LLM" runs tools that move money, so it must be off."""
    config = VoiceConfig(deepgram_api_key="k", deepgram_base_url="http://127.0.0.1:9")
    session = build_session(config, None, llm=_NoLLM())
    assert session.options.preemptive_generation["enabled"] is False
    assert session.turn_detection == "vad"
    assert session.options.endpointing["min_delay"] == config.min_endpointing_delay
    assert session.stt._opts.endpoint_url == "http://127.0.0.1:9/v1/listen"  # type: ignore[union-attr]
    assert session.tts._opts.base_url == "http://127.0.0.1:9/v1/speak"  # type: ignore[union-attr]


def test_a_session_without_turns_needs_an_llm() -> None:
    """`build_session(config, None)` built a `VoiceGraphLLM(None)` (typed away with a
    `type: ignore`) that failed only at the first turn; now it is refused at once."""
    config = VoiceConfig(deepgram_api_key="k", deepgram_base_url="http://127.0.0.1:9")
    with pytest.raises(ValueError, match="needs its turns"):
        build_session(config, None)
