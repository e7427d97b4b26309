"""Chat streaming overhead: model first token -> client first `token` event, and tokens/s.

A scripted model (fixed time-to-first-token, fixed token interval) answers inside a real
api process (uvicorn; SecantusDB and Redis started here); clients POST messages and read the
SSE answer with httpx-sse: 1 chat, 20 overlapping chats (started a fraction of an answer
apart, then back to back), and 20 chats starting in the same instant. The model stamps its
first token with `time.monotonic_ns()` (one clock for every process on this machine), so
the client measures the pipeline's overhead exactly. Baseline in the same run: the same
model consumed directly, in-process, without the server. Prints the overhead (target p95
<= 5 ms) and the passthrough ratio = client tokens/s / baseline tokens/s (target >= 0.95).

    .venv/bin/python scripts/bench_chat.py [--tokens 100] [--interval-ms 50] [--ttft-ms 50]"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun  # noqa: E402
from langchain_core.language_models import BaseChatModel  # noqa: E402
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage  # noqa: E402
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult  # noqa: E402

from scripts.api_process import FAST_HASHING, ApiProcess, api_env  # noqa: E402
from scripts.devservices import spawn_mongo, spawn_redis  # noqa: E402


class BenchChatModel(BaseChatModel):
    """Streams `tokens` tokens: the first after `ttft` s, stamped `@<monotonic_ns> `, then
    one every `interval` s."""

    tokens: int = 100
    ttft: float = 0.05
    interval: float = 0.01

    @property
    def _llm_type(self) -> str:
        return "bench"

    def bind_tools(self, tools: Any, **kwargs: Any) -> BaseChatModel:  # type: ignore[override]
        return self

    def _generate(self, messages: list[BaseMessage], *a: Any, **k: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="x"))])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        await asyncio.sleep(self.ttft)
        start = time.monotonic()
        yield ChatGenerationChunk(message=AIMessageChunk(content=f"@{time.monotonic_ns()} "))
        for i in range(1, self.tokens):
            # Sleep to the schedule (not a fixed sleep per token), like a steady model.
            delay = start + i * self.interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            yield ChatGenerationChunk(message=AIMessageChunk(content=" tok"))
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata={
                    "input_tokens": 10,
                    "output_tokens": self.tokens,
                    "total_tokens": 10 + self.tokens,
                },
            )
        )


class BenchFactory:
    def __init__(self, tokens: int, ttft: float, interval: float) -> None:
        self.kw = {"tokens": tokens, "ttft": ttft, "interval": interval}

    def chat_model(self, agent: str) -> BaseChatModel:
        return BenchChatModel(**self.kw)

    async def ensure_available(self) -> None:
        return None

    async def probe(self) -> None:
        return None

    def mark_unavailable(self) -> None:
        return None


def bench_app() -> Any:
    """`uvicorn --factory scripts.bench_chat:bench_app`: the real app with the bench model."""
    from server.app import create_app

    app = create_app()
    factory = BenchFactory(
        int(os.environ["BENCH_TOKENS"]),
        float(os.environ["BENCH_TTFT"]),
        float(os.environ["BENCH_INTERVAL"]),
    )

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        services = app.state.get("services") if scope["type"] == "http" else None
        if services is not None and services.chat.llm_factory is not factory:
            services.chat.llm_factory = factory
        await app(scope, receive, send)

    return asgi


# ------------------------------------------------------------------------------ measuring


def rate(times_ns: list[int]) -> float:
    span = (times_ns[-1] - times_ns[0]) / 1e9
    return (len(times_ns) - 1) / span if span > 0 else float("inf")


async def baseline(tokens: int, ttft: float, interval: float, rounds: int) -> list[float]:
    """The model alone, consumed in-process: tokens/s as a client of the model sees it."""
    from langchain_core.messages import HumanMessage

    rates = []
    for _ in range(rounds):
        model = BenchChatModel(tokens=tokens, ttft=ttft, interval=interval)
        times = [time.monotonic_ns() async for _ in model.astream([HumanMessage("hi")])]
        rates.append(rate(times[:tokens]))
    return rates


async def one_chat(client: httpx.AsyncClient, user: dict[str, Any]) -> tuple[float, float]:
    """(overhead ms, client tokens/s) of one answer."""
    from httpx_sse import aconnect_sse

    times: list[int] = []
    first_model_ns = 0
    async with aconnect_sse(
        client,
        "POST",
        f"/api/v1/chat/sessions/{user['session']}/messages",
        json={"content": "go"},
        headers=user["headers"],
    ) as source:
        async for sse in source.aiter_sse():
            if sse.event == "token":
                now = time.monotonic_ns()
                if not times:
                    first_model_ns = int(json.loads(sse.data)["text"].split()[0][1:])
                times.append(now)
            elif sse.event == "error":
                raise RuntimeError(sse.data)
    return (times[0] - first_model_ns) / 1e6, rate(times)


async def run_level(
    base: str, users: list[dict[str, Any]], rounds: int, *, stagger: float = 0.0
) -> tuple[list[float], list[float]]:
    """Each user runs `rounds` answers back to back. `stagger` > 0 starts user i after
    i * stagger seconds (chats that overlap without starting in the same instant);
    0 starts every chat at once, round after round (a burst)."""
    overheads: list[float] = []
    rates: list[float] = []
    limits = httpx.Limits(max_connections=len(users) + 5)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        if stagger <= 0:
            for _ in range(rounds):
                for overhead, r in await asyncio.gather(*(one_chat(client, u) for u in users)):
                    overheads.append(overhead)
                    rates.append(r)
            return overheads, rates

        async def loop(i: int, user: dict[str, Any]) -> None:
            await asyncio.sleep(i * stagger)
            for _ in range(rounds):
                overhead, r = await one_chat(client, user)
                overheads.append(overhead)
                rates.append(r)

        await asyncio.gather(*(loop(i, u) for i, u in enumerate(users)))
    return overheads, rates


async def make_users(base: str, count: int) -> list[dict[str, Any]]:
    users = []
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for i in range(count):
            name = f"bench{i}{os.getpid()}"
            response = await client.post(
                "/api/v1/auth/register",
                json={"username": name, "email": f"{name}@example.com", "password": "x" * 16},
            )
            response.raise_for_status()
            headers = {"Authorization": f"Bearer {response.json()['accessToken']}"}
            session = await client.post(
                "/api/v1/chat/sessions", json={"agent": "personal"}, headers=headers
            )
            session.raise_for_status()
            users.append({"headers": headers, "session": session.json()["id"]})
    return users


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def services_env(tmp: Path) -> Iterator[dict[str, str]]:
    mongo = spawn_mongo(tmp / "mongo")
    redis = spawn_redis(tmp / "redis")
    try:
        yield {"MONGODB_URL": mongo.url, "REDIS_URL": redis.url}
    finally:
        redis.stop()
        mongo.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=100)
    parser.add_argument("--interval-ms", type=float, default=50.0)
    parser.add_argument("--ttft-ms", type=float, default=50.0)
    parser.add_argument("--rounds-single", type=int, default=10)
    parser.add_argument("--rounds-concurrent", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    ttft, interval = args.ttft_ms / 1000, args.interval_ms / 1000
    n = args.concurrency

    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        gen = services_env(tmp)
        urls = next(gen)
        env = api_env(
            urls["MONGODB_URL"],
            urls["REDIS_URL"],
            "bench_chat",
            environment="development",  # as deployed: GC frozen after startup
            log_level="WARNING",
            rate_limit_register_per_ip_per_hour=100000,
            rate_limit_auth_per_ip_per_minute=100000,
            chat_messages_per_minute=100000,
            bench_tokens=args.tokens,
            bench_ttft=ttft,
            bench_interval=interval,
            **FAST_HASHING,
        )
        api = ApiProcess(
            env, log_path=tmp / "api.log", app="scripts.bench_chat:bench_app", log_level="warning"
        )
        try:
            base = api.base
            api.wait_ready_sync(90, path="/health/live")
            users = asyncio.run(make_users(base, args.concurrency))
            base_rates = asyncio.run(baseline(args.tokens, ttft, interval, 5))
            base_rate = statistics.median(base_rates)
            print(
                f"model: ttft {args.ttft_ms:.0f} ms, {args.tokens} tokens every "
                f"{args.interval_ms:.1f} ms (nominal {1000 / args.interval_ms:.1f} tokens/s)"
            )
            print(f"baseline (model consumed directly): {base_rate:.1f} tokens/s")
            answer_seconds = ttft + args.tokens * interval
            levels = (
                ("1 chat", 1, args.rounds_single, 0.0),
                (f"{n} overlapping chats", n, args.rounds_concurrent, answer_seconds / n),
                (f"{n} chats starting at once", n, args.rounds_concurrent, 0.0),
            )
            gc.collect()
            gc.freeze()  # the client's own collections are not the server's overhead
            for label, level, rounds, stagger in levels:
                asyncio.run(run_level(base, users[:level], 1))  # warm-up
                overheads, rates = asyncio.run(
                    run_level(base, users[:level], rounds, stagger=stagger)
                )
                client_rate = statistics.median(rates)
                print(
                    f"{label}, {len(overheads)} answers: overhead model->client first "
                    f"token p50 {pct(overheads, 0.5):.2f} ms, p95 {pct(overheads, 0.95):.2f} ms "
                    f"(target <= 5 ms); client {client_rate:.1f} tokens/s "
                    f"(min {min(rates):.1f}), passthrough ratio {client_rate / base_rate:.3f} "
                    "(target >= 0.95)"
                )
        finally:
            api.stop()
            with contextlib.suppress(StopIteration):
                next(gen)


if __name__ == "__main__":
    main()
