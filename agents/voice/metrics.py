"""Per-turn latency of the voice agent: logged, and exported to Prometheus.

LiveKit puts each turn's figures on the conversation items (`ChatMessage.metrics`): the
user's message carries the end-of-utterance delay, the agent's message the LLM time to first
token, the TTS time to first byte and the end-to-end latency (user stopped speaking -> agent
started). The worker serves the histograms on `VOICE_METRICS_PORT` (LiveKit's worker
aggregates its job processes through `PROMETHEUS_MULTIPROC_DIR`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter, Histogram

log = logging.getLogger("agents.voice.metrics")

_BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)

EOU_DELAY = Histogram(
    "second_brain_voice_eou_delay_seconds",
    "End of the user's speech to the end of their turn being decided",
    buckets=_BUCKETS,
)
TRANSCRIPTION_DELAY = Histogram(
    "second_brain_voice_transcription_delay_seconds",
    "End of the user's speech to the final transcript",
    buckets=_BUCKETS,
)
LLM_TTFT = Histogram(
    "second_brain_voice_llm_ttft_seconds",
    "LLM (the LangGraph agent) request to its first spoken token",
    buckets=_BUCKETS,
)
TTS_TTFB = Histogram(
    "second_brain_voice_tts_ttfb_seconds",
    "First text sent to the TTS to its first audio byte",
    buckets=_BUCKETS,
)
E2E_LATENCY = Histogram(
    "second_brain_voice_e2e_latency_seconds",
    "The user stopped speaking to the agent started speaking",
    buckets=_BUCKETS,
)
TURNS = Counter("second_brain_voice_turns", "Voice turns answered", ["interrupted"])


@dataclass
class TurnMetrics:
    eou_delay: float | None = None
    transcription_delay: float | None = None
    llm_ttft: float | None = None
    tts_ttfb: float | None = None
    e2e_latency: float | None = None
    interrupted: bool = False

    def as_log(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in vars(self).items()}


def _num(report: Any, key: str) -> float | None:
    value = report.get(key) if isinstance(report, dict) else None
    return float(value) if isinstance(value, (int, float)) else None


@dataclass
class TurnMetricsRecorder:
    """Feed it every conversation item; it closes a turn on each agent message."""

    chat_session_id: str = ""
    turns: list[TurnMetrics] = field(default_factory=list)
    _current: TurnMetrics = field(default_factory=TurnMetrics)

    def on_item(self, role: str, report: Any, *, interrupted: bool = False) -> TurnMetrics | None:
        if role == "user":
            self._current = TurnMetrics(
                eou_delay=_num(report, "end_of_turn_delay"),
                transcription_delay=_num(report, "transcription_delay"),
            )
            return None
        if role != "assistant":
            return None
        turn = self._current
        turn.llm_ttft = _num(report, "llm_node_ttft")
        turn.tts_ttfb = _num(report, "tts_node_ttfb")
        turn.e2e_latency = _num(report, "e2e_latency")
        turn.interrupted = interrupted
        self._current = TurnMetrics()
        self._export(turn)
        self.turns.append(turn)
        return turn

    def _export(self, turn: TurnMetrics) -> None:
        for histogram, value in (
            (EOU_DELAY, turn.eou_delay),
            (TRANSCRIPTION_DELAY, turn.transcription_delay),
            (LLM_TTFT, turn.llm_ttft),
            (TTS_TTFB, turn.tts_ttfb),
            (E2E_LATENCY, turn.e2e_latency),
        ):
            if value is not None and value >= 0:
                histogram.observe(value)
        TURNS.labels(interrupted=str(turn.interrupted).lower()).inc()
        log.info("voice turn", extra={"chatSessionId": self.chat_session_id, **turn.as_log()})
