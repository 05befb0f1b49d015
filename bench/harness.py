"""Plumbing shared by the benchmark scripts: paths, seeded throwaway databases, gunicorn servers
on free loopback ports, wrk runs and /proc readings. Nothing here imports Django; the scripts
that need it (seed.py, migrate.py's subcommands, profile_request.py) run as subprocesses with the
database chosen by ``DATABASE_URL``. Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import json
import os
import re
import resource
import secrets
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
BASE_DIR = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"
PEERS_DIR = BENCH_DIR / "peers"
VENV_BIN = BASE_DIR / ".venv" / "bin"
PEERS_BIN = BENCH_DIR / ".venv-peers" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
HOST = "127.0.0.1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024

_RPS_RE = re.compile(r"^Requests/sec:\s+([0-9.]+)", re.MULTILINE)
_NON_2XX_RE = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_ERRORS_RE = re.compile(r"Socket errors:.*")
_REQUESTS_RE = re.compile(r"(\d+) requests in")


class BenchError(RuntimeError):
    """Something that makes the measurement meaningless; the run stops loudly."""


def run_checked(command: list[str], env: dict[str, str], *, cwd: Path = BASE_DIR) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BenchError(
            f"{shlex.join(command)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )
    return result.stdout


def last_json_line(output: str) -> dict:
    """What a benchmark subprocess printed last: one JSON object."""
    data: dict = json.loads(output.strip().splitlines()[-1])
    return data


def clean_env() -> dict[str, str]:
    """This process's environment without any Django or Keyhouse setting that could leak in."""
    prefixes = ("DJANGO_", "KEYHOUSE_", "DATABASE_URL", "PEERS_", "BENCH_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


# --- Keyhouse databases -----------------------------------------------------------------------


def keyhouse_env(db_path: Path) -> dict[str, str]:
    """`make run`'s environment (RUN_ENV in the Makefile), pointed at a throwaway database;
    it also answers to "keyhouse", the host name the README's nginx snippet gives it."""
    return {
        **clean_env(),
        "DATABASE_URL": f"sqlite:///{db_path}",  # an absolute path: sqlite:////…
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "KEYHOUSE_HTTPS": "false",
        "DJANGO_ALLOWED_HOSTS": "localhost,127.0.0.1,keyhouse",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }


def remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


_schema: Path | None = None


def keyhouse_database(name: str, seed_args: list[str]) -> tuple[Path, dict]:
    """``bench/out/<name>.sqlite3`` with Keyhouse's schema, seeded by bench/seed.py; returns
    the path and what the seed printed (ids and real secrets)."""
    global _schema
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    if _schema is None:  # migrate once, then copy: migrating is slower than seeding
        _schema = OUT_DIR / "schema.sqlite3"
        remove_database(_schema)
        run_checked([PYTHON, "manage.py", "migrate", "--no-input", "-v0"], keyhouse_env(_schema))
    path = OUT_DIR / f"{name}.sqlite3"
    remove_database(path)
    with sqlite3.connect(_schema) as source, sqlite3.connect(path) as target:
        source.backup(target)  # the backup API also copies what is still in the WAL
    seeded = last_json_line(
        run_checked([PYTHON, str(BENCH_DIR / "seed.py"), *seed_args], keyhouse_env(path))
    )
    return path, seeded


# --- Servers ----------------------------------------------------------------------------------


def makefile_gunicorn_options() -> list[str]:
    """The options `make run` gives gunicorn, read from the Makefile so the two cannot drift
    apart; ``--bind`` is left out (each server here gets a free port)."""
    for line in (BASE_DIR / "Makefile").read_text().splitlines():
        if "gunicorn config.wsgi" in line:
            words = shlex.split(line.split("gunicorn config.wsgi", 1)[1])
            if "--bind" in words:
                index = words.index("--bind")
                del words[index : index + 2]
            return words
    raise BenchError("the Makefile's run target has no `gunicorn config.wsgi` line")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})  # loopback only
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@dataclass
class Server:
    """A gunicorn master and its workers serving one app over one database."""

    name: str
    gunicorn: Path
    wsgi: str
    env: dict[str, str]
    cwd: Path = BASE_DIR
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(default_factory=Path)

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def command(self, bind: str) -> list[str]:
        return [str(self.gunicorn), self.wsgi, "--bind", bind, *makefile_gunicorn_options()]

    def start(self) -> None:
        """Start gunicorn (access log and all) and wait until it answers HTTP."""
        self.port = free_port()
        self.log_path = OUT_DIR / f"gunicorn-{self.name}.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command(f"{HOST}:{self.port}"),
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so stopping takes the workers
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"{self.name}: gunicorn exited early:\n{self.log_tail()}")
            try:
                http_get(self.url("/"))
            except OSError:
                time.sleep(0.2)
                continue
            if len(self.worker_pids()) == self.workers:
                return
            time.sleep(0.2)
        raise BenchError(f"{self.name}: gunicorn did not come up within 30 s:\n{self.log_tail()}")

    @property
    def workers(self) -> int:
        options = makefile_gunicorn_options()
        return int(options[options.index("--workers") + 1]) if "--workers" in options else 1

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)  # gunicorn's graceful stop of master and workers
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

    def worker_pids(self) -> list[int]:
        assert self.process is not None
        pid = self.process.pid
        try:
            return sorted(
                int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            )
        except OSError:
            return []

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


# --- wrk and /proc ----------------------------------------------------------------------------


@dataclass
class WrkResult:
    rps: float
    requests: int
    socket_errors: str
    cpu_us: float  # server CPU time (gunicorn master + workers) per request, in microseconds
    other_cpus: float  # CPUs busy with anything but this server and wrk meanwhile (incl. steal)


@dataclass(frozen=True)
class Load:
    """How wrk loads a server: ``wrk -t<threads> -c<connections>``."""

    threads: int
    connections: int

    def command(self, url: str, headers: dict[str, str], seconds: int) -> list[str]:
        command = ["wrk", f"-t{self.threads}", f"-c{self.connections}", f"-d{seconds}s"]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        return [*command, url]


def run_wrk(
    load: Load, server: Server, path: str, headers: dict[str, str], seconds: int
) -> WrkResult:
    """One wrk run; any non-2xx answer aborts the benchmark (it would measure an error page)."""
    assert server.process is not None
    cpu_before = process_tree_cpu_seconds(server.process.pid)
    busy_before, wrk_before = machine_busy_seconds(), children_cpu_seconds()
    wall_before = time.monotonic()
    command = load.command(server.url(path), headers, seconds)
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise BenchError(f"wrk failed ({result.returncode}):\n{output}")
    non_2xx = _NON_2XX_RE.search(output)
    if non_2xx:
        raise BenchError(
            f"{server.name} {path}: {non_2xx.group(1)} non-2xx responses\n{output}\n"
            f"{server.log_tail()}"
        )
    rps, requests = _RPS_RE.search(output), _REQUESTS_RE.search(output)
    if rps is None or requests is None:
        raise BenchError(f"could not read wrk's output:\n{output}")
    count = int(requests.group(1))
    cpu = process_tree_cpu_seconds(server.process.pid) - cpu_before
    wall = time.monotonic() - wall_before
    busy = machine_busy_seconds() - busy_before
    others = max(0.0, busy - cpu - (children_cpu_seconds() - wrk_before)) / wall
    errors = _SOCKET_ERRORS_RE.search(output)
    return WrkResult(
        rps=float(rps.group(1)),
        requests=count,
        socket_errors=errors.group(0) if errors else "",
        cpu_us=cpu / count * 1e6 if count else float("nan"),
        other_cpus=others,
    )


def wrk_version() -> str:
    result = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10)
    return (result.stdout + result.stderr).splitlines()[0].split(" Copyright")[0]


def process_tree_cpu_seconds(root: int) -> float:
    """User + system CPU time of ``root`` and its descendants."""
    total = 0.0
    pending = [root]
    while pending:
        pid = pending.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
        pending += [int(child) for child in children]
    return total


def rss_kib(pid: int) -> int:
    """Resident memory of a process right now (the second field of /proc/<pid>/statm)."""
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KIB


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent not idle (user, nice, system, irq, softirq, steal)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def other_load(seconds: float = 2.0) -> float:
    """How many CPUs the machine keeps busy, sampled over ``seconds`` while we wait."""
    before = machine_busy_seconds()
    time.sleep(seconds)
    return (machine_busy_seconds() - before) / seconds


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"
