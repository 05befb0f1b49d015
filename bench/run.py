"""Keyhouse against its peers, in one run: ``make bench`` writes bench/RESULTS.md.

What is measured is three tables below, meant to be extended: ``DATASETS`` (a seeded database
and the gunicorn serving it), ``CASES`` (one URL with one credential on one dataset, run with
wrk) and ``RATIOS`` (the targets: one case's median req/s over another's). The other targets
(worker memory, migration, and the profile of one request) come from their own phases.

Every server runs `make run`'s gunicorn options (read from the Makefile: sync workers, access
log to stdout) on a free loopback port; the peers (bench/peers/, their own venv) get the same.
All servers stay up for the whole throughput phase, whose rounds run every case back to back,
the starting case rotated each round, after one discarded warm-up pass; figures are medians.
Nothing but 127.0.0.1 is contacted, and every process started is stopped before exiting.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from pathlib import Path

import migrate
import profile_request
from harness import (
    BASE_DIR,
    BENCH_DIR,
    OUT_DIR,
    PEERS_BIN,
    PEERS_DIR,
    PYTHON,
    VENV_BIN,
    BenchError,
    Load,
    Server,
    WrkResult,
    clean_env,
    http_get,
    keyhouse_database,
    keyhouse_env,
    last_json_line,
    loadavg,
    makefile_gunicorn_options,
    other_load,
    remove_database,
    rss_kib,
    run_checked,
    run_wrk,
    wrk_version,
)

sys.path.insert(0, str(BASE_DIR))  # for the tests' nginx, which runs the README's snippet
from tests.nginx import Nginx

RESULTS_PATH = BENCH_DIR / "RESULTS.md"
SEARCH_PAGE = 50
SEARCH = f"/api/serviceaccounts/search?perpage={SEARCH_PAGE}"
AUDIT = f"/api/audit?perpage={SEARCH_PAGE}"
QUIET_CPUS = 0.25  # CPUs kept busy by others below which the machine counts as quiet


# --- What is measured --------------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    """A database seeded by ``seed`` (bench/seed.py's arguments, or the peers' seed's) and
    served by one gunicorn. ``app``: "keyhouse", "peers" (DRF views) or "bare"; or "nginx",
    in front of the datasets ``behind`` names: Keyhouse's (empty: no auth) and the API's."""

    name: str
    app: str
    seed: tuple[str, ...]
    description: str
    behind: tuple[str, str] = ("", "")


@dataclass(frozen=True)
class Case:
    """``GET path`` on a dataset's server with ``authorization`` (filled in from the seed's
    output, e.g. ``{secret}``). ``expect`` names the check its answer must pass first."""

    name: str
    dataset: str
    path: str
    authorization: str
    expect: str
    label: str


@dataclass(frozen=True)
class Ratio:
    label: str
    numerator: str
    denominator: str
    target: float


DATASETS = (
    Dataset(
        "accounts-10000",
        "keyhouse",
        ("--accounts", "10000", "--tokens-per-account", "1", "--api-keys", "1000"),
        "10 000 service accounts x 1 token, 1 000 legacy API keys",
    ),
    Dataset("accounts-50", "keyhouse", ("--accounts", "50"), "50 service accounts x 1 token"),
    Dataset("accounts-10", "keyhouse", ("--accounts", "10"), "10 service accounts x 1 token"),
    Dataset(
        "tokens-1000",
        "keyhouse",
        ("--accounts", "20", "--tokens-per-account", "1000"),
        "20 service accounts x 1 000 tokens",
    ),
    Dataset("tokens-1", "keyhouse", ("--accounts", "20"), "20 service accounts x 1 token"),
    Dataset(
        "audit-1000000",
        "keyhouse",
        ("--accounts", "1", "--audit-events", "1000000"),
        "1 000 000 audit events in the org",
    ),
    Dataset(
        "audit-1000",
        "keyhouse",
        ("--accounts", "1", "--audit-events", "1000"),
        "1 000 audit events in the org",
    ),
    Dataset(
        "peers",
        "peers",
        ("--api-keys", "10000", "--knox-tokens", "10000"),
        "DRF peers: 10 000 API keys, 10 000 knox tokens (5 per user)",
    ),
    Dataset("bare", "bare", (), "bare Django view: no database"),
    Dataset(
        "nginx-verify",
        "nginx",
        (),
        "nginx `auth_request` (the README's snippet) to the bare view, asking accounts-10000",
        ("accounts-10000", "bare"),
    ),
    Dataset("nginx-plain", "nginx", (), "the same nginx to the bare view, no auth", ("", "bare")),
)

CASES = (
    Case("bare", "bare", "/org", "", "org", "bare Django JSON view"),
    Case("api-key", "peers", "/api-key/org", "Api-Key {api_key}", "org", "DRF + `HasAPIKey`"),
    Case("knox", "peers", "/knox/org", "Token {knox_token}", "org", "DRF + knox"),
    Case("org", "accounts-10000", "/api/org", "Bearer {secret}", "org", "`/api/org`, token"),
    Case(
        "verify",
        "accounts-10000",
        "/api/auth/verify?permission=metrics:ingest",
        "Bearer {secret}",
        "verify",
        "`/api/auth/verify`, token",
    ),
    Case(
        "nginx-verify",
        "nginx-verify",
        "/org",
        "Bearer {secret}",
        "org",
        "nginx `auth_request` → bare view",
    ),
    Case("nginx-plain", "nginx-plain", "/org", "", "org", "nginx → bare view, no auth"),
    Case(
        "org-legacy",
        "accounts-10000",
        "/api/org",
        "Bearer {api_key}",
        "org",
        "`/api/org`, legacy API key",
    ),
    Case(
        "search-accounts-10000",
        "accounts-10000",
        SEARCH,
        "Bearer {secret}",
        "search",
        "search, 10 000 accounts",
    ),
    Case(
        "search-accounts-50",
        "accounts-50",
        SEARCH,
        "Bearer {secret}",
        "search",
        "search, 50 accounts",
    ),
    Case(
        "search-accounts-10",
        "accounts-10",
        SEARCH,
        "Bearer {secret}",
        "search",
        "search, 10 accounts",
    ),
    Case(
        "search-tokens-1000",
        "tokens-1000",
        SEARCH,
        "Bearer {secret}",
        "search",
        "search, 20 accounts x 1 000 tokens",
    ),
    Case(
        "search-tokens-1",
        "tokens-1",
        SEARCH,
        "Bearer {secret}",
        "search",
        "search, 20 accounts x 1 token",
    ),
    Case("audit-1000000", "audit-1000000", AUDIT, "Bearer {secret}", "audit", "audit log, 10^6"),
    Case("audit-1000", "audit-1000", AUDIT, "Bearer {secret}", "audit", "audit log, 10^3"),
)

RATIOS = (
    Ratio(
        "`GET /api/org` with a token ÷ DRF + djangorestframework-api-key `HasAPIKey` view",
        "org",
        "api-key",
        2.5,
    ),
    Ratio("same ÷ DRF + django-rest-knox `TokenAuthentication` view", "org", "knox", 3.5),
    Ratio("same ÷ a bare Django JSON view (no middleware, no DB)", "org", "bare", 0.75),
    Ratio(
        "`/api/serviceaccounts/search?perpage=50`: 20 accounts x 1 000 tokens ÷ 20 x 1 token",
        "search-tokens-1000",
        "search-tokens-1",
        0.8,
    ),
    Ratio(
        "same page: 10 000 accounts ÷ 10 accounts",
        "search-accounts-10000",
        "search-accounts-10",
        0.8,
    ),
    Ratio(
        "search page of 50 (an org of 50 accounts) ÷ `/api/org`",
        "search-accounts-50",
        "org",
        0.4,
    ),
    Ratio("legacy API key auth ÷ token auth (`/api/org`)", "org-legacy", "org", 0.95),
    Ratio("`/api/auth/verify` (forward auth) ÷ `/api/org`, same token", "verify", "org", 0.95),
    Ratio(
        "through nginx `auth_request` to the bare view ÷ the same nginx to it without auth",
        "nginx-verify",
        "nginx-plain",
        0.5,
    ),
    Ratio(
        "`/api/audit?perpage=50`, page 1: 1 000 000 events ÷ 1 000 events",
        "audit-1000000",
        "audit-1000",
        0.8,
    ),
)

REFERENCE_CASE = "org"  # its body is the document every peer serves
MEMORY_CASE = "org"  # the authenticated request repeated for the worker memory figure
PROFILE_CASE = "org"  # the request profiled in-process
WORKER_GROWTH_TARGET_MIB = 5.0
MIGRATE_REQUEST_TARGET_SECONDS = 8.0
MIGRATE_MEMORY_TARGET = 1.25  # peak RSS at N keys ÷ at N/10 keys: "flat"
WRITER_WAIT_TARGET_SECONDS = 1.0

FULL = {
    "rounds": 5,
    "duration": 5,
    "warmup": 2,
    "memory_requests": 100_000,
    "migrate_request_keys": 10_000,
    "migrate_command_keys": 100_000,
    "profile_iterations": 3000,
    "quiet_wait": 60,
}
QUICK = {
    "rounds": 1,
    "duration": 2,
    "warmup": 1,
    "memory_requests": 5_000,
    "migrate_request_keys": 1_000,
    "migrate_command_keys": 5_000,
    "profile_iterations": 300,
    "quiet_wait": 0,
}
PHASES = ("throughput", "memory", "migration", "profile")


# --- Checks on what a case answers ------------------------------------------------------------


def check_org(body: bytes, seeded: dict, reference: bytes) -> str | None:
    if body != reference:
        return f"body {body[:120]!r} is not byte-identical to Keyhouse's {reference[:120]!r}"
    return None


def check_search(body: bytes, seeded: dict, reference: bytes) -> str | None:
    data = json.loads(body)
    rows = data["serviceAccounts"]
    per_account = seeded["tokens"] // seeded["accounts"]
    if data["totalCount"] != seeded["accounts"] or len(rows) != min(
        SEARCH_PAGE, seeded["accounts"]
    ):
        return f"totalCount {data['totalCount']} and {len(rows)} rows for {seeded['accounts']}"
    if any(row["tokens"] != per_account for row in rows):
        return f"token counts {[row['tokens'] for row in rows]}, expected {per_account} each"
    return None


def check_verify(body: bytes, seeded: dict, reference: bytes) -> str | None:
    data = json.loads(body)
    if data["credential"] != "token" or data["orgId"] != json.loads(reference)["id"]:
        return f"verify answered {data}"
    return None


def check_audit(body: bytes, seeded: dict, reference: bytes) -> str | None:
    data = json.loads(body)
    events = data["events"]
    if data["totalCount"] != seeded["audit_events"] or len(events) != SEARCH_PAGE:
        return f"totalCount {data['totalCount']} and {len(events)} events for {seeded}"
    if [event["time"] for event in events] != sorted((e["time"] for e in events), reverse=True):
        return "events are not newest first"
    return None


CHECKS: dict[str, Callable[[bytes, dict, bytes], str | None]] = {
    "org": check_org,
    "search": check_search,
    "verify": check_verify,
    "audit": check_audit,
}


# --- Setting up -----------------------------------------------------------------------------


@dataclass
class Running:
    """A dataset's server, and what its seed printed (ids and real secrets)."""

    dataset: Dataset
    server: Server
    seeded: dict = field(default_factory=dict)
    db_path: Path | None = None

    def headers(self, case: Case) -> dict[str, str]:
        if not case.authorization:
            return {}
        return {"Authorization": case.authorization.format(**self.seeded)}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: 1 short round, small migrations (marked as such in the results)",
    )
    for name, value in FULL.items():
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            type=int,
            default=None,
            help=f"default {value:_}, with --quick {QUICK[name]:_}",
        )
    parser.add_argument("--threads", type=int, default=2, help="wrk -t (default 2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk -c (default 16)")
    parser.add_argument(
        "--only",
        default=",".join(PHASES),
        help=f"comma-separated phases to run (default all: {','.join(PHASES)})",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help=f"default {RESULTS_PATH.relative_to(BASE_DIR)}, or bench/out/ with --only",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    args = parser.parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.phases = [phase.strip() for phase in args.only.split(",") if phase.strip()]
    if unknown := set(args.phases) - set(PHASES):
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    if args.output is None:  # a partial run must not overwrite the full results
        args.output = RESULTS_PATH if args.phases == list(PHASES) else OUT_DIR / "RESULTS.md"
    if args.rounds < 1 or args.duration < 1 or args.warmup < 0:
        parser.error("--rounds and --duration must be >= 1, --warmup >= 0")
    if args.migrate_command_keys < 10 or args.migrate_request_keys < 1:
        parser.error("--migrate-command-keys must be >= 10, --migrate-request-keys >= 1")
    return args


def check_tools() -> None:
    if shutil.which("wrk") is None:
        raise BenchError("wrk is missing: `make bench` installs it (apt-get install wrk)")
    if not (BASE_DIR / "staticfiles" / "staticfiles.json").exists():
        raise BenchError("static files are not collected: run `make static` (make bench does)")
    if not (PEERS_BIN / "gunicorn").exists():
        raise BenchError("the peers' venv is missing: `make bench` creates bench/.venv-peers")
    ours, theirs = metadata.version("django"), peers_version("django")
    if ours != theirs:
        raise BenchError(f"Keyhouse runs Django {ours} but the peers {theirs}: re-lock the peers")


def peers_version(package: str) -> str:
    code = f"from importlib import metadata; print(metadata.version({package!r}))"
    return run_checked([str(PEERS_BIN / "python"), "-c", code], clean_env()).strip()


@cache
def keyhouse_sqlite_settings() -> str:
    """Keyhouse's SQLite connection settings as JSON, for the peers to run on the same."""
    code = (
        "import json; from django.conf import settings; db = settings.DATABASES['default']; "
        "print(json.dumps({k: db[k] for k in ('OPTIONS', 'CONN_MAX_AGE', 'CONN_HEALTH_CHECKS')}))"
    )
    return run_checked([PYTHON, "-c", code], keyhouse_env(OUT_DIR / "unused.sqlite3")).strip()


def peers_env(settings: str, db_path: Path | None) -> dict[str, str]:
    env = {
        **clean_env(),
        "DJANGO_SETTINGS_MODULE": f"peerproject.{settings}",
        "DJANGO_SECRET_KEY": os.urandom(32).hex(),
        "BENCH_ORG_JSON": "{}",
    }
    if db_path is not None:
        env["PEERS_DATABASE"] = str(db_path)
        env["BENCH_DATABASE_SETTINGS"] = keyhouse_sqlite_settings()
    return env


def prepare(dataset: Dataset) -> Running:
    """Seed the dataset's database and make (not start) its server."""
    if dataset.app == "nginx":  # start_servers() tells it where the others listen
        keyhouse, _api = dataset.behind
        nginx = Nginx(OUT_DIR / dataset.name, protected=bool(keyhouse), name=dataset.name)
        return Running(dataset, nginx)
    if dataset.app == "keyhouse":
        db_path, seeded = keyhouse_database(dataset.name, list(dataset.seed))
        server = Server(dataset.name, VENV_BIN / "gunicorn", "config.wsgi", keyhouse_env(db_path))
        return Running(dataset, server, seeded, db_path)
    settings = "bare_settings" if dataset.app == "bare" else "settings"
    peers_db = OUT_DIR / f"{dataset.name}.sqlite3" if dataset.seed else None
    env = peers_env(settings, peers_db)  # main() adds the org document before starting it
    server = Server(dataset.name, PEERS_BIN / "gunicorn", "peerproject.wsgi", env, cwd=PEERS_DIR)
    if peers_db is None:
        return Running(dataset, server)
    remove_database(peers_db)
    python = str(PEERS_BIN / "python")
    run_checked([python, "manage.py", "migrate", "--no-input", "-v0"], env, cwd=PEERS_DIR)
    seed = run_checked([python, "seed.py", *dataset.seed], env, cwd=PEERS_DIR)
    return Running(dataset, server, last_json_line(seed), peers_db)


def case_named(name: str) -> Case:
    return next(case for case in CASES if case.name == name)


def start_servers(running: dict[str, Running]) -> bytes:
    """Start Keyhouse's servers, then the peers with the document Keyhouse answered with;
    check every case. Returns that document."""
    for each in running.values():
        if each.dataset.app == "keyhouse":
            each.server.start()
    case = case_named(REFERENCE_CASE)
    where = running[case.dataset]
    _status, reference = http_get(where.server.url(case.path), where.headers(case))
    for each in running.values():
        if each.dataset.app in ("peers", "bare"):
            each.server.env["BENCH_ORG_JSON"] = reference.decode()
            each.server.start()
    for each in running.values():
        if each.dataset.app == "nginx":
            keyhouse, api = each.dataset.behind
            each.server.api = running[api].server.port
            if keyhouse:
                each.server.keyhouse = running[keyhouse].server.port
                each.seeded = running[keyhouse].seeded
            try:
                each.server.start()
            except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
                raise BenchError(f"{each.dataset.name}: {exc}") from exc
    for case in CASES:
        verify(case, running[case.dataset], reference)
    print("Every case answers as expected", flush=True)
    return reference


def verify(case: Case, running: Running, reference: bytes) -> None:
    """The case answers 200 with the expected body, and refuses the request without its
    credential (so the benchmark really measures an authenticated request)."""
    server = running.server
    status, body = http_get(server.url(case.path), running.headers(case))
    if status != 200:
        raise BenchError(f"{case.name}: GET {case.path} -> {status} {body[:200]!r}")
    problem = CHECKS[case.expect](body, running.seeded, reference)
    if problem:
        raise BenchError(f"{case.name}: {problem}")
    if case.authorization:
        status, _ = http_get(server.url(case.path))
        if status not in (401, 403):
            raise BenchError(f"{case.name}: GET {case.path} without credentials -> {status}")


# --- Phases -----------------------------------------------------------------------------------


def wait_for_quiet(limit: int) -> float:
    """Give a busy shared machine up to ``limit`` seconds to calm down; then measure anyway."""
    deadline = time.monotonic() + limit
    while True:
        busy = other_load()
        print(f"Other processes keep {busy:.2f} CPUs busy", flush=True)
        if busy < QUIET_CPUS or time.monotonic() >= deadline:
            return busy


def throughput(
    args: argparse.Namespace, load: Load, running: dict[str, Running]
) -> dict[str, list[WrkResult]]:
    def run(case: Case, seconds: int) -> WrkResult:
        where = running[case.dataset]
        return run_wrk(load, where.server, case.path, where.headers(case), seconds)

    if args.warmup:
        print("Warming up", flush=True)
        for case in CASES:
            run(case, args.warmup)
    samples: dict[str, list[WrkResult]] = {case.name: [] for case in CASES}
    for index in range(args.rounds):
        shift = index % len(CASES)
        for case in CASES[shift:] + CASES[:shift]:
            samples[case.name].append(run(case, args.duration))
        figures = ", ".join(f"{name} {results[-1].rps:.0f}" for name, results in samples.items())
        print(f"Round {index + 1}/{args.rounds}: {figures}", flush=True)
    return samples


@dataclass
class MemoryFigures:
    requests: int
    started_kib: list[int]  # each worker right after start
    before_kib: list[int]  # after the warm-up
    after_kib: list[int]


def worker_memory(args: argparse.Namespace, load: Load, running: Running) -> MemoryFigures:
    """RSS of each worker of a freshly started server after a warm-up and after
    ``memory_requests`` more authenticated requests (served in wrk runs of ``duration``)."""
    case = case_named(MEMORY_CASE)
    server = running.server
    server.start()
    try:
        pids = server.worker_pids()
        started = [rss_kib(pid) for pid in pids]
        headers = running.headers(case)
        run_wrk(load, server, case.path, headers, max(args.warmup, 1))
        before = [rss_kib(pid) for pid in pids]
        served = 0
        while served < args.memory_requests:
            served += run_wrk(load, server, case.path, headers, args.duration).requests
        if server.worker_pids() != pids:
            raise BenchError("a gunicorn worker was replaced during the memory run")
        after = [rss_kib(pid) for pid in pids]
    finally:
        server.stop()
    print(f"Worker RSS {before} -> {after} KiB after {served} requests", flush=True)
    return MemoryFigures(served, started, before, after)


# --- Report -----------------------------------------------------------------------------------


@dataclass
class Verdict:
    label: str
    value: str
    target: str
    passed: bool | None  # None: not measured in this run
    noisy: bool = False  # measured while other processes kept the CPUs busy

    @property
    def word(self) -> str:
        word = {True: "**PASS**", False: "**FAIL**", None: "not measured"}[self.passed]
        return f"{word} (busy machine: uncertain)" if self.noisy else word


def fmt(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ")


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def machine_rows() -> list[tuple[str, str]]:
    def first(path: str, prefix: str) -> str:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
        return "unknown"

    memory = int(first("/proc/meminfo", "MemTotal").split()[0]) / 1024 / 1024
    return [
        ("CPUs (nproc)", str(len(os.sched_getaffinity(0)))),
        ("CPU model", first("/proc/cpuinfo", "model name")),
        ("Memory", f"{memory:.1f} GiB"),
        ("Kernel", f"{platform.system()} {platform.release()} ({platform.machine()})"),
        ("Python", platform.python_version()),
        ("SQLite", sqlite3.sqlite_version),
        ("Django (Keyhouse / peers)", f"{metadata.version('django')} / {peers_version('django')}"),
        (
            "gunicorn (Keyhouse / peers)",
            f"{metadata.version('gunicorn')} / {peers_version('gunicorn')}",
        ),
        ("djangorestframework", peers_version("djangorestframework")),
        ("djangorestframework-api-key", peers_version("djangorestframework-api-key")),
        ("django-rest-knox", peers_version("django-rest-knox")),
        ("wrk", wrk_version()),
    ]


def machine_was_busy(samples: dict[str, list[WrkResult]], idle_check: float) -> bool:
    others = [r.other_cpus for results in samples.values() for r in results]
    return max(statistics.median(others), idle_check) >= QUIET_CPUS


def ratio_verdicts(samples: dict[str, list[WrkResult]], idle_check: float) -> list[Verdict]:
    verdicts = []
    for ratio in RATIOS:
        if not samples:
            verdicts.append(Verdict(ratio.label, "", f"≥ {ratio.target}", None))
            continue
        top = statistics.median(r.rps for r in samples[ratio.numerator])
        bottom = statistics.median(r.rps for r in samples[ratio.denominator])
        value = top / bottom
        verdicts.append(
            Verdict(
                ratio.label,
                f"{value:.2f} ({fmt(top)} / {fmt(bottom)} req/s)",
                f"≥ {ratio.target}",
                value >= ratio.target,
                noisy=machine_was_busy(samples, idle_check),
            )
        )
    return verdicts


def other_verdicts(
    memory: MemoryFigures | None, migration: migrate.MigrationFigures | None
) -> list[Verdict]:
    verdicts = []
    if migration is None:
        labels = (
            "migrate keys in one API request",
            "migrate_api_keys peak memory",
            "longest wait of a concurrent write during those migrations",
        )
        verdicts += [Verdict(label, "", "", None) for label in labels]
    else:
        small, large = migration.small, migration.large
        writer = migrate.worst(migration.request_writer, migration.writer)
        growth = large.peak_anon_kib / small.peak_anon_kib
        verdicts += [
            Verdict(
                f"migrate {fmt(migration.request_keys)} keys (SQLite, one API request)",
                f"{migration.request_seconds:.1f} s",
                f"≤ {MIGRATE_REQUEST_TARGET_SECONDS:.0f} s",
                migration.request_seconds <= MIGRATE_REQUEST_TARGET_SECONDS,
            ),
            Verdict(
                f"`manage.py migrate_api_keys`: peak anonymous RSS with {fmt(large.keys)} keys "
                f"÷ with {fmt(small.keys)} keys (flat memory)",
                f"{growth:.2f} ({mib(large.peak_anon_kib)} / {mib(small.peak_anon_kib)}; "
                f"{large.seconds:.0f} s for {fmt(large.keys)} keys)",
                f"≤ {MIGRATE_MEMORY_TARGET}",
                growth <= MIGRATE_MEMORY_TARGET,
            ),
            Verdict(
                "longest wait of a concurrent write during those migrations",
                f"{writer.longest_seconds:.2f} s ({writer.failed} of {writer.writes} writes "
                "gave up: database is locked)"
                if writer.failed
                else f"{writer.longest_seconds:.2f} s",
                f"≤ {WRITER_WAIT_TARGET_SECONDS:.0f} s",
                writer.longest_seconds <= WRITER_WAIT_TARGET_SECONDS and not writer.failed,
            ),
        ]
    label = "gunicorn worker RSS growth over 100 000 authenticated requests"
    if memory is None:
        verdicts.append(Verdict(label, "", f"< {WORKER_GROWTH_TARGET_MIB:.0f} MiB", None))
    else:
        growth_kib = max(a - b for a, b in zip(memory.after_kib, memory.before_kib, strict=True))
        verdicts.append(
            Verdict(
                label.replace("100 000", fmt(memory.requests)),
                f"{mib(growth_kib)} (largest of {len(memory.after_kib)} workers)",
                f"< {WORKER_GROWTH_TARGET_MIB:.0f} MiB",
                growth_kib / 1024 < WORKER_GROWTH_TARGET_MIB,
            )
        )
    return verdicts


def write_results(
    args: argparse.Namespace,
    *,
    load: Load,
    samples: dict[str, list[WrkResult]],
    memory: MemoryFigures | None,
    migration: migrate.MigrationFigures | None,
    profile: profile_request.ProfileFigures | None,
    context: dict[str, str],
) -> list[Verdict]:
    idle_check = float(context["idle_check"])
    verdicts = ratio_verdicts(samples, idle_check) + other_verdicts(memory, migration)
    cpus = len(os.sched_getaffinity(0))
    lines = [
        "# Keyhouse benchmark: against its peers, in one run",
        "",
        "Generated by `make bench` (`bench/run.py`); rewritten on every run.",
        "",
    ]
    if args.quick or args.phases != list(PHASES):
        lines += [
            "> **Quick run** (`bench/run.py --quick`): one short round and small migrations, "
            "for checking the harness. The figures are indicative only; run `make bench` on a "
            "quiet machine for the real ones."
            if args.quick
            else f"> **Partial run**: only {', '.join(args.phases)}.",
            "",
        ]
    lines += [
        f"- Date: {context['started']} UTC (the run took {context['elapsed']})",
        f"- Load average before / after: {context['load_before']} / {context['load_after']}",
    ]
    if samples:
        others = [r.other_cpus for results in samples.values() for r in results]
        lines.append(
            f"- CPUs kept busy by other processes: {context['idle_check']} of {cpus} just before "
            f"measuring; while measuring median {statistics.median(others):.2f}, max "
            f"{max(others):.2f} (neither gunicorn nor wrk; steal included)"
        )
        if machine_was_busy(samples, idle_check):
            lines.append(
                "- **Note:** other processes competed for the CPUs, so req/s are low and noisy; "
                "the interleaved rounds hit every case alike, but ratios are less certain than "
                "on a quiet machine (see also the ratios by server CPU below)."
            )
    lines += [
        "",
        "## Verdicts",
        "",
        "| Measure | Value | Target | Verdict |",
        "|---|---|---|---|",
        *(f"| {v.label} | {v.value} | {v.target} | {v.word} |" for v in verdicts),
        "",
        *ceiling_lines(samples),
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in machine_rows()),
        "",
        *method_lines(args, load),
    ]
    if samples:
        lines += throughput_lines(args, samples)
    if memory is not None:
        lines += memory_lines(memory)
    if migration is not None:
        lines += migration_lines(migration)
    if profile is not None:
        lines += profile_lines(profile)
    args.output.write_text("\n".join(lines).rstrip() + "\n")
    return verdicts


def ceiling_lines(samples: dict[str, list[WrkResult]]) -> list[str]:
    """How far any view Django serves could get against the peers in this run: the bare view
    (no middleware, no database) over each peer. ``/api/org`` does strictly more than the bare
    view, so its ratios to the peers can only be lower."""
    if not {"bare", "api-key", "knox"} <= samples.keys():
        return []

    def median(name: str, figure: str) -> float:
        return statistics.median(getattr(result, figure) for result in samples[name])

    def ceiling(peer: str) -> str:
        rps = median("bare", "rps") / median(peer, "rps")
        cpu = median(peer, "cpu_us") / median("bare", "cpu_us")
        return f"{rps:.2f} by req/s, {cpu:.2f} by server CPU"

    return [
        "The ceiling for the first two rows: in this run, the bare Django view itself ÷ "
        f"`HasAPIKey` is {ceiling('api-key')}, and ÷ knox {ceiling('knox')}. A view that "
        "authenticates a token does strictly more than that view, so no view served through "
        "Django's handler on this gunicorn can reach a ratio above these.",
        "",
    ]


def method_lines(args: argparse.Namespace, load: Load) -> list[str]:
    gunicorn = " ".join(makefile_gunicorn_options())
    return [
        "## Method",
        "",
        f"- Every server: `gunicorn <app>.wsgi --bind 127.0.0.1:<free port> {gunicorn}`, the",
        "  options of `make run` (read from the Makefile), access log written to a file.",
        "  Keyhouse runs with `make run`'s environment (`DJANGO_DEBUG` unset, "
        "`KEYHOUSE_HTTPS=false`)",
        "  on its own SQLite file per dataset (WAL, connections kept open: its settings).",
        "- Peers (`bench/peers/`, own venv from `bench/peers/requirements.lock`): Django's",
        "  `startproject` settings with DRF, djangorestframework-api-key and django-rest-knox at",
        "  their defaults, on Keyhouse's SQLite settings; DRF renders with the standard JSON",
        "  separators so every `/api/org`-like body is byte-identical (checked before measuring).",
        "  The bare peer has no middleware, no apps and no database.",
        "- Datasets (seeded before measuring):",
        *(f"  - `{d.name}`: {d.description}" for d in DATASETS),
        "- Before measuring, every case must answer 200 with the expected body (search: the",
        "  right totalCount, rows and token counts) and refuse the request without its",
        "  credential; any non-2xx answer during a run aborts the benchmark.",
        f"- Load: `wrk -t{load.threads} -c{load.connections} -d{args.duration}s` per case and "
        f"round; {args.warmup} s per case of",
        f"  discarded warm-up first; then {args.rounds} round(s), each running every case back to",
        "  back with the starting case rotated, so drift on a shared machine hits all alike.",
        "  Figures are medians over the rounds; ratios are ratios of medians. Sync workers",
        "  close the connection after each response, so every request includes a TCP connect.",
        "",
    ]


def throughput_lines(args: argparse.Namespace, samples: dict[str, list[WrkResult]]) -> list[str]:
    rounds = range(1, args.rounds + 1)
    lines = [
        "## Throughput (requests/s; server CPU per request in µs)",
        "",
        "| Case | Request | Median | CPU µs/req | "
        + " | ".join(f"Round {i}" for i in rounds)
        + " |",
        "|---|---|---:|---:|" + "---:|" * args.rounds,
    ]
    for case in CASES:
        results = samples[case.name]
        request = f"`{case.path}` on `{case.dataset}`"
        lines.append(
            f"| {case.label} | {request} | {fmt(statistics.median(r.rps for r in results))} "
            f"| {statistics.median(r.cpu_us for r in results):.0f} | "
            + " | ".join(fmt(r.rps) for r in results)
            + " |"
        )
    cpu = {name: statistics.median(r.cpu_us for r in results) for name, results in samples.items()}
    lines += [
        "",
        "Server CPU per request (gunicorn master and workers, from /proc) is less sensitive to",
        "other load than req/s. The same ratios from it, i.e. the throughput ratios a CPU-bound",
        "server would reach:",
        "",
        *(
            f"- {ratio.label}: {cpu[ratio.denominator] / cpu[ratio.numerator]:.2f} "
            f"(target {ratio.target})"
            for ratio in RATIOS
        ),
    ]
    errors = [
        f"- {name}, round {index + 1}: {result.socket_errors}"
        for name, results in samples.items()
        for index, result in enumerate(results)
        if result.socket_errors
    ]
    if errors:
        lines += ["", "wrk reported socket errors:", "", *errors]
    return [*lines, ""]


def memory_lines(memory: MemoryFigures) -> list[str]:
    case = case_named(MEMORY_CASE)
    return [
        "## Worker memory",
        "",
        f"A freshly started Keyhouse server (`{case.dataset}`), {case.label}: each worker's RSS",
        f"right after start, after the warm-up, and after {fmt(memory.requests)} more requests.",
        "",
        "| Worker | Started | After warm-up | After | Growth |",
        "|---:|---:|---:|---:|---:|",
        *(
            f"| {i + 1} | {mib(s)} | {mib(b)} | {mib(a)} | {mib(a - b)} |"
            for i, (s, b, a) in enumerate(
                zip(memory.started_kib, memory.before_kib, memory.after_kib, strict=True)
            )
        ),
        "",
    ]


def migration_lines(migration: migrate.MigrationFigures) -> list[str]:
    result = migration.request_result
    return [
        "## Migrating legacy API keys (SQLite)",
        "",
        f"- One request: `POST /api/serviceaccounts/migrate` by an Admin token, in-process "
        f"through Django's whole stack: {fmt(result['migrated'])} of {fmt(result['total'])} keys "
        f"in {migration.request_seconds:.1f} s; the real key still answers `/api/org` after.",
        *(
            f"- `manage.py migrate_api_keys --org N` on {fmt(run.keys)} keys: {run.seconds:.1f} s, "
            f"peak RSS {mib(run.peak_rss_kib)}, of which its own (anonymous) memory "
            f"{mib(run.peak_anon_kib)} (`{run.summary}`)"
            for run in (migration.small, migration.large)
        ),
        *(
            f"- Meanwhile ({during}) a second process updated a token's `last_used_at` every "
            f"{migrate.WRITER_PAUSE_SECONDS * 1000:.0f} ms, each in its own transaction: "
            f"{writer.writes} writes, median wait {writer.median_seconds * 1000:.1f} ms, longest "
            f"{writer.longest_seconds:.2f} s, {writer.failed} gave up after SQLite's busy timeout."
            for during, writer in (
                ("the request", migration.request_writer),
                (f"the {fmt(migration.large.keys)}-key command run", migration.writer),
            )
        ),
        f"- Flat memory means the anonymous peak with {fmt(migration.large.keys)} keys is at most "
        f"{MIGRATE_MEMORY_TARGET} times the one with {fmt(migration.small.keys)}: memory held per "
        "key would show as a multiple of that. Full RSS also counts the database pages SQLite "
        "maps (`mmap_size`), which grow with the file, not with what the process holds.",
        "",
    ]


def profile_lines(profile: profile_request.ProfileFigures) -> list[str]:
    def table(rows: list[dict], share: str) -> list[str]:
        return [
            f"| Function | Calls/req | Own µs/req | Cumulative µs/req | {share} |",
            "|---|---:|---:|---:|---:|",
            *(
                f"| `{row['function']}` | {row['calls']:g} | {row['own_us']:.1f} "
                f"| {row['cumulative_us']:.1f} | {row['share']:.1%} |"
                for row in rows
            ),
        ]

    return [
        f"## Profile: one authenticated `GET {profile.path}`",
        "",
        "`bench/profile_request.py`: in-process through `config.wsgi.application` (what "
        f"gunicorn serves), {fmt(profile.iterations)} requests under cProfile",
        f"after a warm-up. {profile.microseconds:.0f} µs per request without the profiler "
        f"({profile.profiled_microseconds:.0f} µs with it; through Django's plain WSGIHandler, "
        f"every middleware and the URL resolver: {profile.full_handler_microseconds:.0f} µs), "
        f"{profile.queries} SQL quer" + ("y" if profile.queries == 1 else "ies") + " per "
        "request. gunicorn's own work (HTTP parsing, access log) is not included.",
        "",
        "### Own time by source file",
        "",
        "| Source file | Own µs/req | Share of profiled time |",
        "|---|---:|---:|",
        *(
            f"| `{row['file']}` | {row['own_us']:.1f} | {row['share']:.1%} |"
            for row in profile.by_file
        ),
        "",
        "### Top functions by own time",
        "",
        *table(profile.by_own_time, "Share of profiled time"),
        "",
        "### Top functions by cumulative time",
        "",
        *table(profile.by_cumulative_time, "Share of profiled time"),
        "",
        "### Decoding a credential",
        "",
        "Before its one query, a credential's shape is checked (a malformed one is refused",
        "without a query; a legacy key is base64 of JSON) and its SHA-256 digest computed.",
        "Best of five rounds of many calls, in the same process:",
        "",
        "| Credential | Characters | Shape check µs | Digest µs |",
        "|---|---:|---:|---:|",
        *(
            f"| {row['kind']} | {row['length']} | {row['parse_us']:.2f} | {row['digest_us']:.2f} |"
            for row in profile.decoding
        ),
        "",
    ]


# --- Main -------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    load_before = loadavg()
    check_tools()
    load = Load(args.threads, args.connections)
    OUT_DIR.mkdir(parents=True, exist_ok=True)

    print("Seeding databases", flush=True)
    running = {dataset.name: prepare(dataset) for dataset in DATASETS}
    samples: dict[str, list[WrkResult]] = {}
    memory = migration = profile = None
    idle_check = 0.0
    try:
        reference = start_servers(running)
        if "throughput" in args.phases:
            idle_check = wait_for_quiet(args.quiet_wait)
            samples = throughput(args, load, running)
            for case in CASES:
                verify(case, running[case.dataset], reference)  # still right after the load
    finally:
        for each in running.values():
            each.server.stop()

    if "memory" in args.phases:
        memory = worker_memory(args, load, running[case_named(MEMORY_CASE).dataset])
    if "migration" in args.phases:
        print("Migration", flush=True)
        migration = migrate.measure(
            request_keys=args.migrate_request_keys, command_keys=args.migrate_command_keys
        )
    if "profile" in args.phases:
        case = case_named(PROFILE_CASE)
        where = running[case.dataset]
        assert where.db_path is not None
        print(f"Profiling GET {case.path}", flush=True)
        profile = profile_request.measure(
            where.db_path,
            authorization=where.headers(case)["Authorization"],
            path=case.path,
            iterations=args.profile_iterations,
        )

    elapsed = (datetime.now(UTC) - started).total_seconds()
    verdicts = write_results(
        args,
        load=load,
        samples=samples,
        memory=memory,
        migration=migration,
        profile=profile,
        context={
            "started": f"{started:%Y-%m-%d %H:%M:%S}",
            "elapsed": f"{elapsed:.0f} s",
            "load_before": load_before,
            "load_after": loadavg(),
            "idle_check": f"{idle_check:.2f}",
        },
    )
    for verdict in verdicts:
        print(f"{verdict.word.replace('**', ''):12} {verdict.label}: {verdict.value}")
    print(f"Wrote {args.output}", flush=True)
    failed = any(verdict.passed is False for verdict in verdicts)
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        sys.exit(2)
