"""`python -m server.compose.voice start|dev|console|...`: the LiveKit Agents CLI for the
voice worker, wired here so `agents/voice/` never imports the app or the settings."""

from __future__ import annotations

from livekit.agents import JobContext, cli

from agents.voice.worker import run_job, worker_options
from server.compose.build import open_services
from server.compose.config import voice_config
from server.compose.services import Services
from server.settings import Settings


async def entrypoint(ctx: JobContext) -> None:
    """One voice job (module level: LiveKit's job processes import it by name)."""
    settings = Settings()

    async def open_for_job() -> Services:
        return await open_services(settings)

    await run_job(ctx, voice_config(settings), open_for_job)


def main() -> None:
    settings = Settings()
    cli.run_app(
        worker_options(voice_config(settings), entrypoint, metrics_port=settings.voice_metrics_port)
    )


if __name__ == "__main__":
    main()
