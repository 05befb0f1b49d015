"""Migration benchmarks for bench/run.py: legacy API keys to service accounts on SQLite.

- ``request``: one org Admin's ``POST /api/serviceaccounts/migrate`` for every key, in-process
  through Django's whole request stack (middleware, bearer auth, JSON), timed; the real key
  must still authenticate afterwards.
- ``manage.py migrate_api_keys --org N`` on a small and a ten times larger org, each run's
  peak memory taken from the kernel (``wait4``'s ``ru_maxrss`` of that one process, and the
  largest ``RssAnon`` sampled every 20 ms, which leaves out the database pages SQLite maps),
  so "flat memory" is a comparison of the two runs' anonymous peaks.
- ``writer``: during the API request and during the large command run, a second process
  updates a token's ``last_used_at`` (the write every API request may make) every 50 ms, each in
  its own transaction, and reports its longest wait: how long the migration keeps other writers
  out.

``make bench`` drives all three through :func:`measure`; the subcommands are what it runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness import (
    BASE_DIR,
    OUT_DIR,
    PYTHON,
    BenchError,
    keyhouse_database,
    keyhouse_env,
    last_json_line,
    run_checked,
)

WRITER_PAUSE_SECONDS = 0.05
ANON_SAMPLE_SECONDS = 0.02


@dataclass
class CommandRun:
    keys: int
    seconds: float
    peak_rss_kib: int
    # RSS counts the database file's pages that SQLite's mmap touched too (page cache, shared
    # and reclaimable, growing with the file); the process's own memory is its anonymous part.
    peak_anon_kib: int
    summary: str  # the command's own "Migration summary" line


@dataclass
class WriterReport:
    writes: int
    failed: int  # gave up with "database is locked" after the busy timeout
    longest_seconds: float
    median_seconds: float


def worst(*reports: WriterReport) -> WriterReport:
    """One report for the verdict: the longest wait and every write that gave up."""
    longest = max(reports, key=lambda report: report.longest_seconds)
    return WriterReport(
        writes=sum(report.writes for report in reports),
        failed=sum(report.failed for report in reports),
        longest_seconds=longest.longest_seconds,
        median_seconds=longest.median_seconds,
    )


@dataclass
class MigrationFigures:
    request_keys: int
    request_seconds: float
    request_result: dict
    request_writer: WriterReport  # during the API request
    small: CommandRun
    large: CommandRun
    writer: WriterReport  # during the large command run


def measure(*, request_keys: int, command_keys: int) -> MigrationFigures:
    """All migration figures, each on its own fresh database."""
    path, seeded = keyhouse_database("migrate-request", ["--api-keys", str(request_keys)])
    print(f"  migrating {request_keys} keys in one API request", flush=True)
    env = {
        **keyhouse_env(path),
        "KEYHOUSE_LOG_LEVEL": "ERROR",
        "BENCH_AUTHORIZATION": f"Bearer {seeded['secret']}",  # an Admin's token
        "BENCH_LEGACY_KEY": seeded["api_key"],  # must still work once migrated
    }
    with _concurrent_writer(keyhouse_env(path), seeded["token_id"]) as request_writer:
        request = last_json_line(run_checked([PYTHON, __file__, "request"], env))
    small = _command_run("migrate-small", command_keys // 10)
    path, seeded = keyhouse_database("migrate-large", ["--api-keys", str(command_keys)])
    with _concurrent_writer(keyhouse_env(path), seeded["token_id"]) as reports:
        large = _command_run("migrate-large", command_keys, (path, seeded))
    return MigrationFigures(
        request_keys=request_keys,
        request_seconds=request["seconds"],
        request_result=request["result"],
        request_writer=request_writer[0],
        small=small,
        large=large,
        writer=reports[0],
    )


@contextmanager
def _concurrent_writer(env: dict[str, str], token_id: int) -> Iterator[list[WriterReport]]:
    """Run the writer subcommand around the block; its report is in the list afterwards."""
    stop_file = OUT_DIR / "writer.stop"
    stop_file.unlink(missing_ok=True)
    command = [
        PYTHON,
        __file__,
        "writer",
        "--token-id",
        str(token_id),
        "--stop-file",
        str(stop_file),
    ]
    writer = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, text=True)
    reports: list[WriterReport] = []
    try:
        assert writer.stdout is not None
        if writer.stdout.readline().strip() != "ready":
            raise BenchError("the concurrent writer did not start")
        yield reports
    finally:
        stop_file.touch()
        try:
            output, _ = writer.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            writer.kill()
            writer.wait()
            raise BenchError("the concurrent writer did not stop") from None
        finally:
            stop_file.unlink(missing_ok=True)
    if writer.returncode != 0:
        raise BenchError(f"the concurrent writer failed ({writer.returncode})")
    reports.append(WriterReport(**last_json_line(output)))


def _command_run(name: str, keys: int, seeded: tuple[Path, dict] | None = None) -> CommandRun:
    """``manage.py migrate_api_keys`` on an org of ``keys`` keys (seeded here unless given):
    its time and peak memory."""
    path, seeded_ids = seeded or keyhouse_database(name, ["--api-keys", str(keys)])
    print(f"  manage.py migrate_api_keys on {keys} keys", flush=True)
    log_path = OUT_DIR / f"{name}.log"
    started = time.perf_counter()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [PYTHON, "manage.py", "migrate_api_keys", "--org", str(seeded_ids["org_id"])],
            cwd=BASE_DIR,
            env=keyhouse_env(path),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        peak_anon_kib = 0
        while True:
            peak_anon_kib = max(peak_anon_kib, _anonymous_kib(process.pid))
            # wait4, not wait: it hands back this one child's own resource usage.
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(ANON_SAMPLE_SECONDS)
        process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    output = log_path.read_text()
    if process.returncode != 0:
        raise BenchError(f"migrate_api_keys failed ({process.returncode}):\n{output[-2000:]}")
    summary = next(
        (line.strip() for line in output.splitlines() if "Migration summary" in line), ""
    )
    if f"migrated {keys}," not in summary:
        raise BenchError(f"migrate_api_keys did not migrate all {keys} keys: {summary!r}")
    return CommandRun(keys, seconds, usage.ru_maxrss, peak_anon_kib, summary)


def _anonymous_kib(pid: int) -> int:
    """``RssAnon`` of a running process (0 once it has exited)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    return 0


# --- Subcommands (run with Django set up, on the database in DATABASE_URL) -----------------


def _request() -> dict:
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    started = time.perf_counter()
    response = client.post(
        "/api/serviceaccounts/migrate", HTTP_AUTHORIZATION=os.environ["BENCH_AUTHORIZATION"]
    )
    seconds = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"migrate answered {response.status_code}: {response.content[:200]!r}")
    result = response.json()
    if result["failed"]:
        raise SystemExit(f"{result['failed']} keys failed to migrate: {result['failedDetails']}")
    after = client.get("/api/org", HTTP_AUTHORIZATION=f"Bearer {os.environ['BENCH_LEGACY_KEY']}")
    if after.status_code != 200:
        raise SystemExit(f"the migrated key answered {after.status_code}, expected 200")
    return {"seconds": seconds, "result": result}


def _writer(token_id: int, stop_file: Path) -> dict:
    """Small writes in a loop until ``stop_file`` appears; every write's wait is timed."""
    from django.db import OperationalError, transaction
    from django.utils import timezone

    from tokens.models import ServiceAccountToken

    waits: list[float] = []
    failed = 0
    while not waits or not stop_file.exists():
        started = time.perf_counter()
        try:
            with transaction.atomic():
                ServiceAccountToken.objects.filter(pk=token_id).update(last_used_at=timezone.now())
        except OperationalError:  # "database is locked" once the busy timeout ran out
            failed += 1
        waits.append(time.perf_counter() - started)
        if len(waits) == 1:
            print("ready", flush=True)
        time.sleep(WRITER_PAUSE_SECONDS)
    waits.sort()
    return {
        "writes": len(waits),
        "failed": failed,
        "longest_seconds": waits[-1],
        "median_seconds": waits[len(waits) // 2],
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("request", help="migrate every key in one API request")
    writer = commands.add_parser("writer", help="write in a loop until --stop-file exists")
    writer.add_argument("--token-id", type=int, required=True)
    writer.add_argument("--stop-file", type=Path, required=True)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    if args.command == "request":
        print(json.dumps(_request()))
    else:
        print(json.dumps(_writer(args.token_id, args.stop_file)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
