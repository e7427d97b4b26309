"""Voice configuration, handed in by the composition root (agents/ never reads settings)."""

from __future__ import annotations

from dataclasses import dataclass

AGENT_NAME = "second-brain-voice"


@dataclass(frozen=True, slots=True)
class VoiceConfig:
    livekit_url: str = ""  # the worker connects here
    livekit_public_url: str = ""  # clients connect here (empty = livekit_url)
    livekit_api_key: str = ""
    livekit_api_secret: str = ""
    agent_name: str = AGENT_NAME  # the worker registers under it; tokens dispatch it
    token_ttl_seconds: int = 300  # to join the room; LiveKit refreshes it once connected
    sessions_per_minute: int = 10  # new voice sessions per user per minute
    deepgram_api_key: str = ""
    deepgram_base_url: str = ""  # e.g. http://127.0.0.1:8765 (a stand-in); empty = Deepgram
    stt_model: str = "nova-3"
    tts_model: str = "aura-2-andromeda-en"
    language: str = "en"
    min_endpointing_delay: float = 0.5  # silence after speech before the turn is taken as done
    approval_timeout_seconds: float = 120.0  # a spoken approval left unanswered is refused

    @property
    def livekit_configured(self) -> bool:
        return bool(self.livekit_url and self.livekit_api_key and self.livekit_api_secret)

    @property
    def client_url(self) -> str:
        return self.livekit_public_url or self.livekit_url

    @property
    def stt_url(self) -> str:
        return f"{self.deepgram_base_url.rstrip('/')}/v1/listen" if self.deepgram_base_url else ""

    @property
    def tts_url(self) -> str:
        return f"{self.deepgram_base_url.rstrip('/')}/v1/speak" if self.deepgram_base_url else ""
