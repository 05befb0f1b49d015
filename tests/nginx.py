"""A real nginx in front of a tiny API, for the forward-auth tests (and bench/run.py).

``Nginx`` writes an nginx.conf into a folder of its own (pid file, logs and temp paths there
too) that defines the upstreams ``keyhouse`` and ``my_api`` and includes, unchanged, the
snippet the README shows (``config/nginx/keyhouse-auth.conf``); nginx runs as the current user
on a free loopback port. ``echo_api`` is the tests' API: a WSGI app answering every request
with the method, path, headers and body it received, as JSON."""

from __future__ import annotations

import base64
import getpass
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

ROOT = Path(__file__).resolve().parent.parent
SNIPPET = ROOT / "config" / "nginx" / "keyhouse-auth.conf"
NGINX = os.environ.get("KEYHOUSE_NGINX", "/usr/sbin/nginx")
# Without the snippet: the same nginx straight to the API (the benchmark's baseline).
PLAIN = """
location / {
    proxy_set_header Host $host;
    proxy_pass http://my_api;
}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def echo(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    headers = {
        key[5:].replace("_", "-").title(): value
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    answer = {
        "method": environ["REQUEST_METHOD"],
        "path": environ["PATH_INFO"],
        "headers": headers,
        "body": base64.b64encode(body).decode(),
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(answer).encode()]


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def echo_api() -> Iterator[int]:
    """The tiny upstream API, on a free port (yielded) in a thread."""
    server: WSGIServer = make_server("127.0.0.1", 0, echo, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()


def nginx_conf(folder: Path, *, port: int, keyhouse: int, api: int, server_block: str) -> str:
    """``keyhouse`` 0: no Keyhouse upstream (for ``PLAIN``)."""
    user = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""
    upstream = f"upstream keyhouse {{ server 127.0.0.1:{keyhouse}; }}" if keyhouse else ""
    temp = "\n".join(
        f"    {kind}_temp_path {folder / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{user}
worker_processes 1;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
{temp}
    {upstream}
    upstream my_api {{ server 127.0.0.1:{api}; }}
    server {{
        listen 127.0.0.1:{port};
{server_block}
    }}
}}
"""


@dataclass
class Nginx:
    """nginx with the README's snippet (or, ``protected=False``, straight to the API) between
    a client and the API on port ``api``, asking Keyhouse on port ``keyhouse``."""

    folder: Path
    keyhouse: int = 0
    api: int = 0
    protected: bool = True
    name: str = "nginx"
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        """Start on a free port and wait until it listens; fails without Debian's nginx."""
        if not shutil.which(NGINX):
            raise RuntimeError(f"nginx not found at {NGINX}: install Debian's nginx package.")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        block = f"        include {SNIPPET};" if self.protected else PLAIN
        conf = self.folder / "nginx.conf"
        conf.write_text(
            nginx_conf(
                self.folder,
                port=self.port,
                keyhouse=self.keyhouse,
                api=self.api,
                server_block=block,
            )
        )
        log = self.folder / "error.log"
        command = [NGINX, "-p", str(self.folder), "-e", str(log), "-c", str(conf)]
        subprocess.run([*command, "-t", "-q"], check=True, capture_output=True)  # noqa: S603
        self.process = subprocess.Popen([*command, "-g", "daemon off;"])  # noqa: S603
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not listen on {self.port}: {self.log_tail()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def log_tail(self, lines: int = 30) -> str:
        log = self.folder / "error.log"
        return "\n".join(log.read_text().splitlines()[-lines:]) if log.exists() else "(no log)"


@contextmanager
def run_nginx(folder: Path, *, keyhouse: int, api: int) -> Iterator[int]:
    """The README's snippet in a running nginx; yields its port, stops it on exit."""
    nginx = Nginx(folder, keyhouse, api)
    nginx.start()
    try:
        yield nginx.port
    finally:
        nginx.stop()
