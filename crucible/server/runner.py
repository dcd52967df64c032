"""Run the app under uvicorn on a socket we bind ourselves (so ``--port 0`` can report its port)."""

from __future__ import annotations

import logging
import secrets
import socket
import sys
from pathlib import Path


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be IPPROTO_TCP (not 0): asyncio only sets TCP_NODELAY on accepted sockets whose
    # proto says TCP, and without it every response waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(*, host: str, port: int, data_dir: Path, admin_key: str | None, fail_rate: float,
          fail_seed: int, ingest_mode: str, log_level: str = "warning") -> int:
    """Bind, print ``<api url>`` as the first stdout line, then serve until interrupted."""
    import os

    import uvicorn

    os.umask(0o077)  # every file the server writes (database, blobs, parts) is owner-only

    from .app import create_app
    from .settings import Settings

    sock = bind_socket(host, port)
    real_port = sock.getsockname()[1]
    url_host = f"[{host}]" if ":" in host else host
    public_url = f"http://{url_host}:{real_port}"
    generated = admin_key is None
    admin_key = admin_key or "ck_admin_" + secrets.token_urlsafe(24)
    settings = Settings(data_dir=Path(data_dir), public_url=public_url, admin_key=admin_key,
                        fail_rate=fail_rate, fail_seed=fail_seed, ingest_mode=ingest_mode)
    app = create_app(settings)
    print(settings.api_url, flush=True)
    if generated:
        print(f"Admin API key: {admin_key}", flush=True)
    else:
        print("Admin API key: from CRUCIBLE_SERVER_ADMIN_KEY", flush=True)
    print(f"Data dir: {Path(data_dir).resolve()}", flush=True)
    logging.getLogger("uvicorn.error").setLevel(log_level.upper())
    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="on",
                            timeout_keep_alive=30, http="h11")
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    sys.stdout.flush()
    return 0
