"""Where one authenticated ``GET /api/org`` spends its time: the request goes in-process
through ``config.wsgi.application``, the WSGI application gunicorn serves (its short path for
hot API requests, bearer authentication, the view, JSON encoding and the end-of-request
signals, exactly as gunicorn calls it), many times over under cProfile. What gunicorn itself
adds (HTTP parsing, the access log) is not in it. For comparison, the same request is also
timed through Django's plain ``WSGIHandler`` (every middleware and the URL resolver), which
``--django`` profiles instead.

bench/run.py calls :func:`measure`, which runs this file as a subprocess on a seeded database
and reads the JSON it prints; the top costs go into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import sys
import sysconfig
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from harness import BASE_DIR, BENCH_DIR, PYTHON, keyhouse_env, last_json_line, run_checked

TOP = 25
WARM_UP_REQUESTS = 50


@dataclass
class ProfileFigures:
    path: str
    iterations: int
    queries: int  # SQL queries one request makes
    microseconds: float  # per request without the profiler
    full_handler_microseconds: float  # the same through Django's plain WSGIHandler
    profiled_microseconds: float  # per request under the profiler
    by_own_time: list[dict]
    by_cumulative_time: list[dict]
    by_file: list[dict]
    decoding: list[dict]  # per kind of credential: µs to check its shape, and to digest it


def measure(db_path: Path, *, authorization: str, path: str, iterations: int) -> ProfileFigures:
    command = [PYTHON, __file__, "--path", path, "--iterations", str(iterations)]
    env = {**keyhouse_env(db_path), "BENCH_AUTHORIZATION": authorization}
    return ProfileFigures(**last_json_line(run_checked(command, env)))


# --- In-process (run with Django set up) -------------------------------------------------------


def _environ(path: str, authorization: str) -> dict:
    path_info, _, query = path.partition("?")
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "SCRIPT_NAME": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "bench",
        "HTTP_AUTHORIZATION": authorization,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def _requester(application: Callable, path: str, authorization: str) -> Callable[[], None]:
    """One call = one request through the WSGI application, as a WSGI server makes it."""
    statuses: list[str] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: object = None
    ) -> Callable[[bytes], object]:
        statuses.append(status)
        return lambda data: None  # WSGI's write(), which Django never calls

    def request() -> None:
        environ = _environ(path, authorization)
        environ["wsgi.input"] = io.BytesIO()
        response = application(environ, start_response)
        b"".join(response)
        response.close()  # fires request_finished, as the server does
        if statuses.pop() != "200 OK":
            raise SystemExit(f"GET {path} did not answer 200")

    return request


def _source(filename: str) -> str:
    for root in (sysconfig.get_paths()["purelib"], str(BASE_DIR), sysconfig.get_paths()["stdlib"]):
        if filename.startswith(root + os.sep):
            return filename[len(root) + 1 :]
    return filename


def _where(filename: str, line: int, function: str) -> str:
    if filename == "~":  # a built-in; drop the address some of them carry
        return re.sub(r" at 0x[0-9a-f]+", "", function)
    return f"{_source(filename)}:{line} {function}"


def _by_file(stats: pstats.Stats, iterations: int, total: float) -> list[dict]:
    """Own time summed per source file: roughly, what each middleware or layer costs."""
    sums: dict[str, float] = {}
    for (filename, _line, _function), row in stats.stats.items():  # type: ignore[attr-defined]
        if not filename.startswith(str(BENCH_DIR)):
            name = "(built-in functions)" if filename == "~" else _source(filename)
            sums[name] = sums.get(name, 0.0) + row[2]
    ranked = sorted(sums.items(), key=lambda item: item[1], reverse=True)[:TOP]
    return [
        {"file": name, "own_us": own / iterations * 1e6, "share": own / total}
        for name, own in ranked
    ]


def _top(stats: pstats.Stats, key: int, iterations: int, total: float) -> list[dict]:
    """The ``TOP`` functions by own (key 2) or cumulative (key 3) time, per request."""
    rows: Iterable = stats.stats.items()  # type: ignore[attr-defined]
    ours = [item for item in rows if not item[0][0].startswith(str(BENCH_DIR))]
    ranked = sorted(ours, key=lambda item: item[1][key], reverse=True)[:TOP]
    return [
        {
            "function": _where(*where),
            "calls": calls / iterations,
            "own_us": own / iterations * 1e6,
            "cumulative_us": cumulative / iterations * 1e6,
            "share": (own if key == 2 else cumulative) / total,
        }
        for where, (_primitive, calls, own, cumulative, _callers) in ranked
    ]


DECODING_ROUNDS = 20_000


def decoding() -> list[dict]:
    """What a token and a legacy key cost before their one query: the shape check that
    refuses a malformed one without a query (a legacy key is base64 of JSON), then the
    digest looked up."""
    from django.conf import settings

    from apikeys import format as key_format
    from tokens import format as token_format

    samples = (
        ("token", token_format.parse, token_format.generate(settings.KEYHOUSE_TOKEN_PREFIX)),
        ("legacy API key", key_format.parse, key_format.generate("bench-real", 1)),
    )
    figures = []
    for kind, parse, secret in samples:
        assert parse(secret) is not None
        figures.append(
            {
                "kind": kind,
                "length": len(secret),
                "parse_us": _per_call(parse, secret),
                "digest_us": _per_call(token_format.digest, secret),
            }
        )
    return figures


def _per_call(function: Callable[[str], object], argument: str) -> float:
    """Microseconds per call: the best of five rounds, so other load inflates it least."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(DECODING_ROUNDS):
            function(argument)
        best = min(best, time.perf_counter() - started)
    return best / DECODING_ROUNDS * 1e6


TIMING_ROUNDS = 5


def _best_of_rounds(requests: dict[str, Callable[[], None]], iterations: int) -> dict[str, float]:
    """Seconds per request of each, the best of rounds that alternate between them, so that
    other load on the machine hits both alike and disturbs the figure least."""
    best = dict.fromkeys(requests, float("inf"))
    per_round = max(1, iterations // TIMING_ROUNDS)
    for _ in range(TIMING_ROUNDS):
        for name, request in requests.items():
            started = time.perf_counter()
            for _ in range(per_round):
                request()
            best[name] = min(best[name], (time.perf_counter() - started) / per_round)
    return best


def profile(path: str, authorization: str, iterations: int, *, django: bool = False) -> dict:
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from config.wsgi import application

    served = _requester(application, path, authorization)
    full = _requester(WSGIHandler(), path, authorization)
    for _ in range(WARM_UP_REQUESTS):
        served()
        full()
    with CaptureQueriesContext(connection) as captured:
        served()
    queries = len(captured)  # now: the next request's start clears the log it reads
    plain = _best_of_rounds({"served": served, "full": full}, iterations)

    request = full if django else served

    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for _ in range(iterations):
        request()
    profiler.disable()
    profiled = (time.perf_counter() - started) / iterations
    stats = pstats.Stats(profiler)
    total = stats.total_tt  # type: ignore[attr-defined]
    return {
        "path": path,
        "iterations": iterations,
        "queries": queries,
        "microseconds": plain["served"] * 1e6,
        "full_handler_microseconds": plain["full"] * 1e6,
        "profiled_microseconds": profiled * 1e6,
        "by_own_time": _top(stats, 2, iterations, total),
        "by_cumulative_time": _top(stats, 3, iterations, total),
        "by_file": _by_file(stats, iterations, total),
        "decoding": decoding(),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", default="/api/org")
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument(
        "--django", action="store_true", help="through Django's plain WSGIHandler instead"
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    authorization = os.environ["BENCH_AUTHORIZATION"]
    figures = profile(args.path, authorization, args.iterations, django=args.django)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
