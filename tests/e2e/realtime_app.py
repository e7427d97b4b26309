"""The real app plus test-only channel kinds, for real-time tests in server processes.

`uvicorn --factory tests.e2e.realtime_app:create_app` - identical to `server.app:create_app`
except that a `test:` channel kind is registered after startup:
- `test:open-*` anyone may read (with presence),
- `test:gate-*` readable while the Redis key `rtgate:<channel>:<userId>` exists; re-checked
  after every `test.gate_changed` event (to exercise losing membership).
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar

from server.app import create_app as create_real_app
from server.compose.providers import SERVICES_STATE_KEY
from server.core.actor import Actor


def create_app() -> Litestar:
    app = create_real_app()

    async def register(app: Litestar) -> None:
        services: Any = app.state[SERVICES_STATE_KEY]

        async def authorize(actor: Actor, ident: str) -> bool:
            if ident.startswith("open-"):
                return True
            if ident.startswith("gate-"):
                key = f"rtgate:test:{ident}:{actor.user_id}"
                return bool(await services.redis.exists(key))
            return False

        services.channel_authorizers.register_channel_authorizer(
            "test", authorize, presence=True, recheck_on={"test.gate_changed"}
        )

    app.on_startup.append(register)
    return app
