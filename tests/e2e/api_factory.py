"""`ApiFactory`: real api processes for the e2e tests, all on one fresh database.

The app is `tests.e2e.realtime_app:create_app` (the real app plus a `test:` channel kind)
unless `app=` names another factory. Settings are given by field name and override
`E2E_SETTINGS`; `None` removes one (the setting's default applies). The fixtures that hand
out factories are in `tests/e2e/conftest.py`.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from scripts.api_process import FAST_HASHING, ApiProcess, api_env
from tests.e2e.realtime_support import ORIGIN

REALTIME_APP = "tests.e2e.realtime_app:create_app"

E2E_SETTINGS: dict[str, object] = {
    "environment": "test",
    **FAST_HASHING,
    "rate_limit_auth_per_ip_per_minute": 10_000,
    "rate_limit_auth_per_account_per_minute": 10_000,
    "rate_limit_register_per_ip_per_hour": 10_000,
    "log_level": "INFO",  # the log tests read the access log
    "ws_allowed_origins": ORIGIN,
}


class ApiFactory:
    """Start api processes sharing one fresh database; `stop_all` stops every one."""

    def __init__(self, mongo_url: str, redis_url: str, log_dir: Path) -> None:
        self.mongo_url = mongo_url
        self.redis_url = redis_url
        self.log_dir = log_dir
        self.db = f"test_{uuid.uuid4().hex[:12]}"
        self.started: list[ApiProcess] = []

    def env(self, *, redis_url: str | None = None, **settings: object) -> dict[str, str]:
        """The environment the processes get (also for CLI subprocesses on the same db)."""
        merged = {**E2E_SETTINGS, **settings}
        return api_env(self.mongo_url, redis_url or self.redis_url, self.db, **merged)

    def spawn(
        self,
        *,
        app: str = REALTIME_APP,
        port: int | None = None,
        redis_url: str | None = None,
        **settings: object,
    ) -> ApiProcess:
        """Start a process without waiting for it."""
        log_path = self.log_dir / f"api-{len(self.started)}.log"
        api = ApiProcess(
            self.env(redis_url=redis_url, **settings), log_path=log_path, app=app, port=port
        )
        self.started.append(api)
        return api

    async def start(
        self,
        *,
        app: str = REALTIME_APP,
        port: int | None = None,
        redis_url: str | None = None,
        **settings: object,
    ) -> ApiProcess:
        """Start a process and wait until `/health/ready` answers 200."""
        api = self.spawn(app=app, port=port, redis_url=redis_url, **settings)
        await api.wait_ready()
        return api

    def start_sync(
        self,
        *,
        app: str = REALTIME_APP,
        port: int | None = None,
        redis_url: str | None = None,
        **settings: object,
    ) -> ApiProcess:
        api = self.spawn(app=app, port=port, redis_url=redis_url, **settings)
        api.wait_ready_sync()
        return api

    def stop_all(self) -> None:
        for api in self.started:
            api.stop()
