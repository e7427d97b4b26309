"""`python -m agents.voice start|dev|console|...`: the LiveKit Agents CLI for the worker."""

from __future__ import annotations

from livekit.agents import cli

from agents.voice.worker import _settings, worker_options


def main() -> None:
    settings, config = _settings()
    cli.run_app(worker_options(config, metrics_port=settings.voice_metrics_port))


if __name__ == "__main__":
    main()
