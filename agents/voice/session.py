"""The `AgentSession` of one voice conversation: Deepgram STT and TTS, Silero VAD, and the
LangGraph agent (through `VoiceGraphLLM`) as the LLM.

Turn handling: VAD turn detection (Silero ships inside livekit-plugins-silero: nothing is
downloaded), VAD interruptions, and *no preemptive generation*: our "LLM" runs tools that
act on the managers, so it must only run once a turn is final.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from livekit.agents import Agent, AgentSession
from livekit.agents import llm as lk_llm
from livekit.agents import vad as lk_vad
from livekit.plugins import deepgram, silero

from agents.voice.config import VoiceConfig
from agents.voice.llm import VoiceGraphLLM
from agents.voice.turns import VoiceTurns

GREETING = "Hi, I'm listening."


class VoiceAgent(Agent):
    def __init__(self) -> None:
        # The graph carries each agent's own system prompt; these instructions only tell
        # LiveKit's text pipeline what this is.
        super().__init__(instructions="Second Brain voice assistant (LangGraph agents).")


def load_vad() -> lk_vad.VAD:
    return silero.VAD.load()


def build_session(
    config: VoiceConfig,
    turns: VoiceTurns | None,
    *,
    vad: lk_vad.VAD | None = None,
    http_session: aiohttp.ClientSession | None = None,
    llm: lk_llm.LLM[Any] | None = None,
) -> AgentSession[Any]:
    """The session for `turns`; `llm` replaces the agent's LLM (the bench's baseline)."""
    if llm is None:
        if turns is None:
            raise ValueError("a voice session needs its turns, or an LLM to replace the agent")
        llm = VoiceGraphLLM(turns)
    stt_kwargs: dict[str, Any] = {}
    tts_kwargs: dict[str, Any] = {}
    if config.deepgram_api_key:  # else the plugins read DEEPGRAM_API_KEY themselves
        stt_kwargs["api_key"] = config.deepgram_api_key
        tts_kwargs["api_key"] = config.deepgram_api_key
    if config.stt_url:
        stt_kwargs["base_url"] = config.stt_url
        tts_kwargs["base_url"] = config.tts_url
    if http_session is not None:
        stt_kwargs["http_session"] = http_session
        tts_kwargs["http_session"] = http_session
    return AgentSession(
        stt=deepgram.STT(
            model=config.stt_model,
            language=config.language,
            **stt_kwargs,
        ),
        tts=deepgram.TTS(model=config.tts_model, **tts_kwargs),
        vad=vad if vad is not None else load_vad(),
        llm=llm,
        turn_handling={
            "turn_detection": "vad",
            "endpointing": {"min_delay": config.min_endpointing_delay},
            "interruption": {"mode": "vad"},
            "preemptive_generation": {"enabled": False},
        },
    )
