"""The LiveKit Agents worker: one job per voice room, dispatched by name (explicit dispatch:
the token's room configuration asks for `VoiceConfig.agent_name`).

A job checks the signed dispatch metadata and the participant's identity, opens the same
services as the api (MongoDB, Redis, managers, the chat service), and runs an
`AgentSession` (Deepgram STT/TTS, Silero VAD, the LangGraph agent) for that one user.

The process entry is the composition root's (`python -m server.compose.voice start`): it
hands `run_job` the config and a way to open the services; nothing here imports the app.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from livekit.agents import NOT_GIVEN, AutoSubscribe, JobContext, JobProcess, WorkerOptions, room_io

from agents.voice.config import VoiceConfig
from agents.voice.identity import VoiceIdentityError, resolve_actor
from agents.voice.session import GREETING, VoiceAgent, build_session, load_vad
from agents.voice.tokens import InvalidDispatch, decode_metadata
from agents.voice.transcripts import TranscriptPublisher
from agents.voice.turns import VoiceTurns

if TYPE_CHECKING:  # type-only: the composition root builds it and hands it down
    from server.compose.services import Services

log = logging.getLogger("agents.voice.worker")


def prewarm(proc: JobProcess) -> None:
    proc.userdata["vad"] = load_vad()


async def run_job(
    ctx: JobContext, config: VoiceConfig, open_services: Callable[[], Awaitable[Services]]
) -> None:
    """One voice room: check the dispatch, open the services, run the session."""
    try:
        meta = decode_metadata(ctx.job.metadata, config.livekit_api_secret)
    except InvalidDispatch as exc:
        log.warning("refusing a voice job", extra={"reason": str(exc), "room": ctx.room.name})
        return
    if ctx.room.name != meta.room:
        log.warning("refusing a voice job for another room", extra={"room": ctx.room.name})
        return
    await ctx.connect(auto_subscribe=AutoSubscribe.AUDIO_ONLY)
    participant = await ctx.wait_for_participant(identity=meta.user_id)
    services = await open_services()
    ctx.add_shutdown_callback(services.close)
    try:
        actor = await resolve_actor(services, meta, participant.identity)
    except VoiceIdentityError as exc:
        log.warning("refusing a voice participant", extra={"reason": str(exc)})
        ctx.shutdown(reason="voice identity refused")
        return

    turns = VoiceTurns(
        services=services,
        actor=actor,
        chat_session_id=meta.chat_session_id,
        agent=meta.agent,
        approval_timeout=config.approval_timeout_seconds,
    )
    session = build_session(config, turns, vad=ctx.proc.userdata.get("vad"))
    publisher = TranscriptPublisher(services=services, turns=turns)
    publisher.attach(session)
    turns.on_external_answer = lambda stream: session.say(stream)
    ctx.add_shutdown_callback(turns.aclose)
    ctx.add_shutdown_callback(publisher.aclose)
    await session.start(
        agent=VoiceAgent(),
        room=ctx.room,
        room_options=room_io.RoomOptions(participant_identity=meta.user_id),
    )
    session.say(GREETING)


def worker_options(
    config: VoiceConfig,
    entrypoint: Callable[[JobContext], Awaitable[None]],
    *,
    metrics_port: int | None = None,
) -> WorkerOptions:
    """`entrypoint` is a module-level function (job processes import it by name)."""
    return WorkerOptions(
        entrypoint_fnc=entrypoint,
        prewarm_fnc=prewarm,
        agent_name=config.agent_name,
        ws_url=config.livekit_url or None,
        api_key=config.livekit_api_key or None,
        api_secret=config.livekit_api_secret or None,
        prometheus_port=metrics_port if metrics_port else NOT_GIVEN,
    )
