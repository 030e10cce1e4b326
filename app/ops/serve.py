"""``isu serve``: uvicorn with the project's logging, workers and proxy trust.

- Logs: every logger, uvicorn's too, through one formatter (JSON unless
  ``ISU_LOG_FORMAT=text``); no access log (it would carry raw paths).
- Workers: with ``--workers N`` > 1, uvicorn imports ``app.main:create_app`` in
  each worker process, and the metrics are shared through a private temporary
  directory (prometheus-client's multiprocess mode), removed at exit.
- Proxies: X-Forwarded-For/-Proto are believed only from ``trusted_proxies``;
  by default from nobody, so a client cannot choose the address that the
  failed-authentication limiter counts.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import uvicorn
from fastapi import FastAPI

from app.config import Settings
from app.ops.logging import LogFormat, configure_logging, logging_config
from app.ops.metrics import MULTIPROC_ENV

# A worker imports the whole app (pandas included) before it answers uvicorn's
# health check; on a busy small machine that takes longer than uvicorn's 5 s.
WORKER_HEALTHCHECK_SECONDS = 30


def serve_log_format(settings: Settings) -> LogFormat:
    return settings.log_format or "json"


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Options shared by one and several workers."""
    trusted = settings.trusted_proxies
    return {
        "log_config": logging_config(serve_log_format(settings)),
        "access_log": False,
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": ",".join(trusted) if trusted else None,
    }


def run(api: FastAPI, settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Serve ``api`` (already built, so a bad key or catalogue failed before this)."""
    configure_logging(serve_log_format(settings))
    options = uvicorn_options(settings)
    if workers <= 1:
        uvicorn.run(api, host=host, port=port, **options)
        return
    api.state.engine.dispose()  # each worker builds its own app
    with tempfile.TemporaryDirectory(prefix="isu-metrics-") as directory:
        os.environ[MULTIPROC_ENV] = directory
        try:
            uvicorn.run(
                "app.main:create_app",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
                **options,
            )
        finally:
            os.environ.pop(MULTIPROC_ENV, None)
