"""Liveness and readiness: ready means every component answered within its timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Controller, Response, get
from litestar.datastructures import State

CheckFn = Callable[[], Awaitable[Any]]
HEALTH_CHECKS_STATE_KEY = "health_checks"


async def _run_check(check: CheckFn, limit_seconds: float) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), limit_seconds)
    except Exception as exc:  # any failure makes the component "down"
        return {"status": "down", "error": type(exc).__name__}
    return {"status": "ok", "latencyMs": round((time.perf_counter() - started) * 1000, 2)}


class HealthController(Controller):
    path = "/health"
    tags = ["health"]
    include_in_schema = True

    @get("/live", summary="The process is up")
    async def live(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/ready", summary="MongoDB and Redis answer (1 s each); 503 when one does not")
    async def ready(self, state: State) -> Response[dict[str, Any]]:
        checks: dict[str, tuple[CheckFn, bool]] = state.get(HEALTH_CHECKS_STATE_KEY, {})
        names = list(checks)
        results = await asyncio.gather(*(_run_check(checks[n][0], 1.0) for n in names))
        components: dict[str, Any] = {}
        down = False
        degraded = False
        for name, result in zip(names, results, strict=True):
            critical = checks[name][1]
            if result["status"] != "ok":
                if critical:
                    down = True
                else:
                    result["status"] = "degraded"
                    degraded = True
            components[name] = result
        status = "down" if down else "degraded" if degraded else "ok"
        return Response(
            {"status": status, "components": components}, status_code=503 if down else 200
        )
