"""Hot-path benchmark (DESIGN §3): bearer-authenticated ``GET /api/org`` against the
unauthenticated ``GET /api/health``, with 10 and with 100 000 tokens in the database.

``make bench`` runs this with .venv/bin/python; it is never part of the test suite. It builds
two throwaway SQLite databases under bench/out/, seeds them (bench/seed.py), serves each with
gunicorn (2 sync workers, DJANGO_DEBUG=false) on a free loopback port, checks that the bearer
request really returns 200, then measures all four cases with ``wrk`` in alternating rounds
(so drift on a shared machine hits every case alike) and rewrites bench/RESULTS.md from the
medians. Only 127.0.0.1 is contacted; every server started is stopped before exiting.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import secrets
import shlex
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
BENCH_DIR = BASE_DIR / "bench"
OUT_DIR = BENCH_DIR / "out"
RESULTS_PATH = BENCH_DIR / "RESULTS.md"
SECTIONS_MARKER = "<!-- other benchmarks -->"
VENV_BIN = BASE_DIR / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
GUNICORN = str(VENV_BIN / "gunicorn")
HOST = "127.0.0.1"
WORKERS = 2

AUTH_TARGET = 0.80  # authenticated / unauthenticated req/s
SCALE_TARGET = 0.95  # authenticated req/s at 100k tokens / at 10 tokens
QUIET_CPUS = 0.25  # other processes' CPU use below which the machine counts as quiet

_RPS_RE = re.compile(r"^Requests/sec:\s+([0-9.]+)", re.MULTILINE)
_NON_2XX_RE = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_ERRORS_RE = re.compile(r"Socket errors:.*")
_REQUESTS_RE = re.compile(r"(\d+) requests in")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    """Something that makes the measurement meaningless; the run stops loudly."""


@dataclass
class Server:
    """One seeded database and the gunicorn serving it."""

    tokens: int
    db_path: Path
    env: dict[str, str]
    org_id: int = 0
    secret: str = ""
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(default_factory=Path)

    @property
    def label(self) -> str:
        return f"{self.tokens:,}".replace(",", " ") + " tokens"

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"


@dataclass(frozen=True)
class Case:
    server: Server
    endpoint: str  # "health" or "org"

    @property
    def path(self) -> str:
        return f"/api/{self.endpoint}"

    @property
    def headers(self) -> dict[str, str]:
        if self.endpoint == "org":
            return {"Authorization": f"Bearer {self.server.secret}"}
        return {}

    @property
    def key(self) -> tuple[int, str]:
        return (self.server.tokens, self.endpoint)


# --- Setup ------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="measured rounds (default 7)")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run (default 5)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per case")
    parser.add_argument("--threads", type=int, default=2, help="wrk -t (default 2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk -c (default 16)")
    parser.add_argument(
        "--tokens", type=int, nargs=2, default=[10, 100_000], metavar=("SMALL", "LARGE")
    )
    parser.add_argument(
        "--quiet-wait",
        type=int,
        default=60,
        help="wait up to this many seconds for other processes to leave the CPUs (default 60)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.duration < 1 or args.warmup < 0:
        parser.error("--rounds and --duration must be >= 1, --warmup >= 0")
    if not 1 <= args.tokens[0] < args.tokens[1]:
        parser.error("--tokens needs 1 <= SMALL < LARGE")
    return args


def ensure_wrk() -> str:
    """Path of wrk, installing the Debian package when it is missing and we are root."""
    found = shutil.which("wrk")
    if found:
        return found
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk not found: installing it with apt-get", flush=True)
        apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=apt_env, timeout=300)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=apt_env, timeout=300
        )
        found = shutil.which("wrk")
    if not found:
        raise BenchError("wrk is required: apt-get install wrk")
    return found


def app_env(db_path: Path) -> dict[str, str]:
    """Production-like settings, pointed at a throwaway database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "KEYHOUSE_"))}
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{db_path}",  # absolute path: sqlite:////…
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_DEBUG": "false",
            "KEYHOUSE_HTTPS": "false",
            "DJANGO_ALLOWED_HOSTS": f"{HOST},localhost",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "PYTHONPATH": str(BASE_DIR),
        }
    )
    return env


def run_checked(command: list[str], env: dict[str, str], timeout: int) -> str:
    result = subprocess.run(
        command, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise BenchError(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )
    return result.stdout


def prepare_database(tokens: int) -> Server:
    """A fresh database file with the schema, an org, an Admin service account and tokens."""
    db_path = OUT_DIR / f"bench-{tokens}.sqlite3"
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    server = Server(tokens=tokens, db_path=db_path, env=app_env(db_path))
    started = time.monotonic()
    run_checked([PYTHON, "manage.py", "migrate", "--no-input", "-v0"], server.env, timeout=300)
    seeded = json.loads(
        run_checked(
            [PYTHON, str(BENCH_DIR / "seed.py"), "--tokens", str(tokens)], server.env, timeout=600
        )
        .strip()
        .splitlines()[-1]
    )
    if seeded["tokens"] != tokens:
        raise BenchError(f"seeded {seeded['tokens']} tokens instead of {tokens}")
    server.org_id = int(seeded["org_id"])
    server.secret = str(seeded["secret"])
    print(f"  {server.label}: migrated and seeded in {time.monotonic() - started:.1f}s", flush=True)
    return server


def collectstatic_if_needed(env: dict[str, str]) -> bool:
    """The manifest storage needs collected files; the API does not, but keep startup clean."""
    if (BASE_DIR / "staticfiles" / "staticfiles.json").exists():
        return False
    run_checked([PYTHON, "manage.py", "collectstatic", "--no-input", "-v0"], env, timeout=300)
    return True


# --- Servers ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def gunicorn_command(port: int) -> list[str]:
    return [GUNICORN, "config.wsgi", "--bind", f"{HOST}:{port}", "--workers", str(WORKERS)]


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})  # loopback only
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def start_server(server: Server) -> None:
    server.port = free_port()
    server.log_path = OUT_DIR / f"gunicorn-{server.tokens}.log"
    with server.log_path.open("wb") as log:
        server.process = subprocess.Popen(
            gunicorn_command(server.port),
            cwd=BASE_DIR,
            env=server.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stopping it takes the workers
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise BenchError(f"gunicorn exited early:\n{log_tail(server)}")
        try:
            status, _ = http_get(server.url("/api/health"))
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise BenchError(f"gunicorn on port {server.port} not healthy within 30s:\n{log_tail(server)}")


def stop_server(server: Server) -> None:
    process = server.process
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # gunicorn's graceful shutdown of master and workers
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def log_tail(server: Server, lines: int = 30) -> str:
    try:
        return "\n".join(server.log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def verify(server: Server) -> None:
    """Fail loudly unless the endpoints answer exactly as the benchmark assumes."""
    status, body = http_get(server.url("/api/health"))
    if status != 200 or json.loads(body).get("database") != "ok":
        raise BenchError(f"{server.label}: GET /api/health -> {status} {body[:200]!r}")
    bearer = {"Authorization": f"Bearer {server.secret}"}
    status, body = http_get(server.url("/api/org"), bearer)
    if status != 200:
        raise BenchError(f"{server.label}: GET /api/org with the bearer token -> {status} {body!r}")
    if json.loads(body).get("id") != server.org_id:
        raise BenchError(f"{server.label}: /api/org answered for another org: {body!r}")
    status, _ = http_get(server.url("/api/org"))
    if status != 401:
        raise BenchError(f"{server.label}: GET /api/org without credentials -> {status}, not 401")


# --- Measuring --------------------------------------------------------------------------------


@dataclass
class WrkResult:
    rps: float
    socket_errors: str
    cpu_us: float  # gunicorn CPU time (master + workers) per request, in microseconds
    other_cpus: float  # CPUs busy with anything but gunicorn and wrk meanwhile (incl. steal)


def wrk_command(wrk: str, args: argparse.Namespace, case: Case, duration: int) -> list[str]:
    command = [wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{duration}s"]
    for name, value in case.headers.items():
        command += ["-H", f"{name}: {value}"]
    return [*command, case.server.url(case.path)]


def process_tree_cpu_seconds(root: int) -> float:
    """User + system CPU time of ``root`` and its children (gunicorn's master and workers)."""
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


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent not idle (user, nice, system, irq, softirq, steal)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def other_load(seconds: float = 2.0) -> float:
    """How many CPUs other processes keep busy, sampled over ``seconds`` while we wait."""
    before = machine_busy_seconds()
    time.sleep(seconds)
    return (machine_busy_seconds() - before) / seconds


def wait_for_quiet(limit: int) -> float:
    """Give a busy shared machine up to ``limit`` seconds to calm down; then measure anyway."""
    deadline = time.monotonic() + limit
    while True:
        busy = other_load()
        print(f"Other processes keep {busy:.2f} CPUs busy", flush=True)
        if busy < QUIET_CPUS or time.monotonic() >= deadline:
            return busy


def run_wrk(wrk: str, args: argparse.Namespace, case: Case, duration: int) -> WrkResult:
    command = wrk_command(wrk, args, case, duration)
    assert case.server.process is not None
    cpu_before = process_tree_cpu_seconds(case.server.process.pid)
    busy_before, wrk_before, wall_before = (
        machine_busy_seconds(),
        children_cpu_seconds(),
        time.monotonic(),
    )
    result = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise BenchError(f"wrk failed ({result.returncode}):\n{output}")
    non_2xx = _NON_2XX_RE.search(output)
    if non_2xx:
        raise BenchError(
            f"{case.server.label} {case.path}: {non_2xx.group(1)} non-2xx responses\n"
            f"{output}\n{log_tail(case.server)}"
        )
    match = _RPS_RE.search(output)
    if match is None:
        raise BenchError(f"could not read Requests/sec from wrk:\n{output}")
    cpu = process_tree_cpu_seconds(case.server.process.pid) - cpu_before
    wall = time.monotonic() - wall_before
    busy = machine_busy_seconds() - busy_before
    others = max(0.0, busy - cpu - (children_cpu_seconds() - wrk_before)) / wall
    requests = _REQUESTS_RE.search(output)
    count = int(requests.group(1)) if requests else 0
    errors = _SOCKET_ERRORS_RE.search(output)
    return WrkResult(
        rps=float(match.group(1)),
        socket_errors=errors.group(0) if errors else "",
        cpu_us=cpu / count * 1e6 if count else float("nan"),
        other_cpus=others,
    )


# --- Report -----------------------------------------------------------------------------------


def read_first(path: str, prefix: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def machine_description(wrk: str) -> list[tuple[str, str]]:
    mem_kb = read_first("/proc/meminfo", "MemTotal")
    try:
        memory = f"{int(mem_kb.split()[0]) / 1024 / 1024:.1f} GiB"
    except (ValueError, IndexError):
        memory = mem_kb
    wrk_version = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=10)
    wrk_line = (wrk_version.stdout + wrk_version.stderr).splitlines()[0].split(" Copyright")[0]
    return [
        ("CPUs (nproc)", str(len(os.sched_getaffinity(0)))),
        ("CPU model", read_first("/proc/cpuinfo", "model name")),
        ("Memory", memory),
        ("Kernel", f"{platform.system()} {platform.release()} ({platform.machine()})"),
        ("Python", platform.python_version()),
        ("Django", metadata.version("django")),
        ("gunicorn", metadata.version("gunicorn")),
        ("SQLite", sqlite3.sqlite_version),
        ("wrk", wrk_line),
    ]


def fmt_rps(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ")


def per_round_ratio(numerator: list[WrkResult], denominator: list[WrkResult]) -> float:
    return statistics.median(n.rps / d.rps for n, d in zip(numerator, denominator, strict=True))


def verdict(value: float, target: float) -> str:
    return "PASS" if value >= target else "FAIL"


def write_results(
    *,
    args: argparse.Namespace,
    wrk: str,
    machine: list[tuple[str, str]],
    servers: list[Server],
    samples: dict[tuple[int, str], list[WrkResult]],
    started: datetime,
    elapsed: float,
    load: tuple[str, str],
    idle_check: float,
) -> dict[str, float]:
    small, large = (server.tokens for server in servers)
    median = {key: statistics.median(r.rps for r in results) for key, results in samples.items()}
    cpu = {key: statistics.median(r.cpu_us for r in results) for key, results in samples.items()}
    ratios = {
        "auth_small": median[(small, "org")] / median[(small, "health")],
        "auth_large": median[(large, "org")] / median[(large, "health")],
        "scale": median[(large, "org")] / median[(small, "org")],
    }
    auth_worst = min(ratios["auth_small"], ratios["auth_large"])
    paired = {  # the same ratios taken within each round, then the median: a drift check
        "auth": min(
            per_round_ratio(samples[(tokens, "org")], samples[(tokens, "health")])
            for tokens in (small, large)
        ),
        "scale": per_round_ratio(samples[(large, "org")], samples[(small, "org")]),
    }
    cpus = len(os.sched_getaffinity(0))
    others = [r.other_cpus for results in samples.values() for r in results]
    others_median, others_max = statistics.median(others), max(others)
    small_label, large_label = (server.label for server in servers)
    example = Case(servers[0], "org")
    wrk_org = shlex.join(wrk_command("wrk", args, example, args.duration)).replace(
        servers[0].secret, "glsa_<secret>_<crc>"
    )
    gunicorn_shown = " ".join(gunicorn_command(0)).replace(str(BASE_DIR) + "/", "")
    gunicorn_shown = gunicorn_shown.replace(f"{HOST}:0", f"{HOST}:<port>")
    wrk_health = shlex.join(wrk_command("wrk", args, Case(servers[0], "health"), args.duration))

    lines = [
        "# Keyhouse hot-path benchmark",
        "",
        "Generated by `bench/run.py` (`make bench`); rewritten on every run. DESIGN §3: an",
        "authenticated API request costs one indexed credential lookup plus the view's own work.",
        "",
        f"- Date: {started:%Y-%m-%d %H:%M:%S} UTC (run took {elapsed:.0f} s)",
        f"- Load average before / after the run: {load[0]} / {load[1]}; CPUs kept busy by",
        f"  other processes just before measuring: {idle_check:.2f} of {cpus}",
        "- CPUs used by other processes (not gunicorn, not wrk; steal included) while",
        f"  measuring: median {others_median:.2f}, max {others_max:.2f} of {cpus}",
        *(
            [
                "- **Note:** other processes competed with gunicorn and wrk for the CPUs, so",
                "  absolute req/s are low and noisy; the interleaved rounds and the CPU-per-",
                "  request figures below keep the comparison meaningful.",
            ]
            if max(others_median, idle_check) >= QUIET_CPUS
            else []
        ),
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in machine),
        "",
        "## Method",
        "",
        f"- Two throwaway SQLite databases (`bench/out/bench-{small}.sqlite3`,",
        f"  `bench/out/bench-{large}.sqlite3`), each `manage.py migrate`d and seeded by",
        "  `bench/seed.py`: one org, one Admin service account, one real token from",
        "  `token_create`, the rest bulk-inserted with random distinct SHA-256 digests.",
        "- Environment: `DATABASE_URL=sqlite:////…/bench/out/bench-N.sqlite3 DJANGO_DEBUG=false",
        f"  KEYHOUSE_HTTPS=false DJANGO_ALLOWED_HOSTS={HOST},localhost DJANGO_SECRET_KEY=<random>`",
        "  (settings: WAL, `CONN_MAX_AGE=600`, `CONN_HEALTH_CHECKS=True`).",
        "- Server, one per database, both up for the whole run on free loopback ports:",
        f"  `{gunicorn_shown}`",
        "  (sync workers, no access log; they close the connection after each response,",
        "  so every request includes a TCP connect, for both endpoints alike).",
        "- Before measuring: `/api/health` 200, `/api/org` with the bearer token 200 for the",
        "  seeded org, `/api/org` without credentials 401; any non-2xx during a run aborts it.",
        f"- Warm-up: {args.warmup} s of wrk per case, discarded. Then {args.rounds} rounds;",
        "  each round runs all four cases back to back (health/org alternating, the starting",
        "  case rotated each round), so slow drift on a shared machine hits every case alike.",
        f"- Per measurement: `{wrk_health}` and",
        f"  `{wrk_org}`.",
        "- Figures are medians over the rounds; ratios are ratios of medians.",
        "",
        "## Results (requests/s, median)",
        "",
        "| Tokens in database | `GET /api/health` (no auth) | `GET /api/org` (Bearer) "
        "| org / health |",
        "|---:|---:|---:|---:|",
        f"| {small_label} | {fmt_rps(median[(small, 'health')])} "
        f"| {fmt_rps(median[(small, 'org')])} | {ratios['auth_small']:.3f} |",
        f"| {large_label} | {fmt_rps(median[(large, 'health')])} "
        f"| {fmt_rps(median[(large, 'org')])} | {ratios['auth_large']:.3f} |",
        "",
        "| Ratio | Value | Median of per-round ratios | Target | Verdict |",
        "|---|---:|---:|---:|---|",
        f"| Authenticated / unauthenticated (worse of the two rows above) | {auth_worst:.3f} "
        f"| {paired['auth']:.3f} | ≥ {AUTH_TARGET:.2f} | **{verdict(auth_worst, AUTH_TARGET)}** |",
        f"| Authenticated, {large_label} / {small_label} | {ratios['scale']:.3f} "
        f"| {paired['scale']:.3f} | ≥ {SCALE_TARGET:.2f} "
        f"| **{verdict(ratios['scale'], SCALE_TARGET)}** |",
        "",
        "The verdict uses the ratio of medians; the per-round column pairs measurements",
        "taken seconds apart and should agree with it when the machine was steady.",
        "",
        "## Server CPU per request (median µs; gunicorn master + workers, from /proc)",
        "",
        "Less sensitive to other load on the machine than req/s: what one request costs the",
        "server. health/org is the throughput ratio a CPU-bound server would reach.",
        "",
        "| Tokens in database | `/api/health` | `/api/org` | health / org |",
        "|---:|---:|---:|---:|",
        *(
            f"| {server.label} | {cpu[(server.tokens, 'health')]:.0f} "
            f"| {cpu[(server.tokens, 'org')]:.0f} "
            f"| {cpu[(server.tokens, 'health')] / cpu[(server.tokens, 'org')]:.3f} |"
            for server in servers
        ),
        "",
        f"Authenticated, {small_label} / {large_label} CPU per request (the throughput ratio",
        f"{large_label} / {small_label} a CPU-bound server would reach): "
        f"{cpu[(small, 'org')] / cpu[(large, 'org')]:.3f}.",
        "",
        "## Every round (requests/s, and server CPU µs per request)",
        "",
        "| Round | " + " | ".join(f"{t} {e}" for t, e in samples) + " | other CPUs |",
        "|---:|" + "---:|" * (len(samples) + 1),
    ]
    for index in range(args.rounds):
        cells = " | ".join(
            f"{fmt_rps(results[index].rps)} ({results[index].cpu_us:.0f} µs)"
            for results in samples.values()
        )
        other = statistics.mean(results[index].other_cpus for results in samples.values())
        lines.append(f"| {index + 1} | {cells} | {other:.2f} |")
    socket_errors = [
        f"- {t} {e}, round {i + 1}: {r.socket_errors}"
        for (t, e), results in samples.items()
        for i, r in enumerate(results)
        if r.socket_errors
    ]
    if socket_errors:
        lines += ["", "wrk reported socket errors:", "", *socket_errors]
    lines.append("")
    RESULTS_PATH.write_text("\n".join(lines) + kept_sections())
    return {**ratios, "auth_worst": auth_worst}


def kept_sections() -> str:
    """Sections other benchmarks (bench/migrate.py) wrote below ``SECTIONS_MARKER``."""
    if not RESULTS_PATH.exists():
        return ""
    text = RESULTS_PATH.read_text()
    index = text.find(SECTIONS_MARKER)
    return "\n" + text[index:] if index >= 0 else ""


# --- Main -------------------------------------------------------------------------------------


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    clock = time.monotonic()
    load_before = loadavg()
    wrk = ensure_wrk()
    OUT_DIR.mkdir(parents=True, exist_ok=True)

    print("Preparing databases", flush=True)
    servers = [prepare_database(tokens) for tokens in args.tokens]
    if collectstatic_if_needed(servers[0].env):
        print("  collected static files", flush=True)

    samples: dict[tuple[int, str], list[WrkResult]] = {}
    try:
        for server in servers:
            start_server(server)
            verify(server)
            print(f"  {server.label}: gunicorn on {HOST}:{server.port}, bearer 200", flush=True)
        cases = [Case(server, endpoint) for server in servers for endpoint in ("health", "org")]
        samples = {case.key: [] for case in cases}

        idle_check = wait_for_quiet(args.quiet_wait)
        if args.warmup:
            print("Warming up", flush=True)
            for case in cases:
                run_wrk(wrk, args, case, args.warmup)
        for round_index in range(args.rounds):
            shift = round_index % len(cases)
            row = []
            for case in cases[shift:] + cases[:shift]:
                result = run_wrk(wrk, args, case, args.duration)
                samples[case.key].append(result)
                row.append(f"{case.server.tokens} {case.endpoint} {result.rps:.0f}")
            print(f"Round {round_index + 1}/{args.rounds}: " + ", ".join(row), flush=True)
        for server in servers:
            verify(server)  # still correct after the load
    finally:
        for server in servers:
            stop_server(server)

    ratios = write_results(
        args=args,
        wrk=wrk,
        machine=machine_description(wrk),
        servers=servers,
        samples=samples,
        started=started,
        elapsed=time.monotonic() - clock,
        load=(load_before, loadavg()),
        idle_check=idle_check,
    )
    print(
        f"auth/unauth {ratios['auth_small']:.3f} ({args.tokens[0]} tokens), "
        f"{ratios['auth_large']:.3f} ({args.tokens[1]} tokens): "
        f"{verdict(ratios['auth_worst'], AUTH_TARGET)} (>= {AUTH_TARGET})\n"
        f"{args.tokens[1]}/{args.tokens[0]} tokens, authenticated {ratios['scale']:.3f}: "
        f"{verdict(ratios['scale'], SCALE_TARGET)} (>= {SCALE_TARGET})\n"
        f"Wrote {RESULTS_PATH.relative_to(BASE_DIR)}",
        flush=True,
    )
    failed = ratios["auth_worst"] < AUTH_TARGET or ratios["scale"] < SCALE_TARGET
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        sys.exit(2)
