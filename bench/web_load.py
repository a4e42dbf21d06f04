#!/usr/bin/env python
"""The web side of the benchmarks: visit logging under a constant load, and the elders admin
list, both served by gunicorn on loopback against a benchmark database.

    python bench/web_load.py --database-url postgres://postgres@127.0.0.1:5432/eldercare_bench \\
        --elders 1M --duration 60 --rate 200

The CPU of one visit, one request at a time in-process (no HTTP server, no load generator),
with an optional cProfile of the heaviest functions:

    python bench/web_load.py cpu --database-url postgres://… --requests 300 [--profile 30]

Prints a table and, with ``--json FILE``, writes its rows. ``bench/run.py`` calls
``measure_web``. The database must already hold the elders (``bench/generate.py``) and the
migrations; this script adds only two users of its own (``bench_web_visitor``, a street worker
with a token and a visit assignment, and ``bench_web_admin``, a superuser with a new random
password on every run) and the visits the load posts.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import csv
import importlib.util
import json
import os
import resource
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Issue 8's targets.
TARGET_RATE = 200  # requests per second of visit logging
TARGET_VISIT_P99_MS = 50.0
TARGET_ADMIN_MS = 300.0

# 2 cores shared by PostgreSQL, the load generator and the server: two sync workers keep
# both cores busy without queueing requests behind a third process.
DEFAULT_WORKERS = 2
DEFAULT_WORKER_CLASS = "sync"
# Simulated phones: each posts ``rate / PHONES`` visits a second, so a phone's interval (a
# second at 200/s) is far longer than any response and the arrival rate stays constant.
PHONES = 200
WARMUP_SECONDS = 5
ADMIN_REQUESTS = 20
# The page of "a later page" (100 elders a page: the 50,000th elder on); lower when the
# registry is smaller.
LATER_PAGE = 500
VISITOR = "bench_web_visitor"
ADMIN = "bench_web_admin"
ELDER_SAMPLE = 5000
SETTINGS_MODULE = "bench.web_settings"


def ensure_tools(log: Callable[[str], None] = print) -> None:
    """Install the pinned benchmark tools (requirements-bench.txt) into this interpreter's
    environment when locust is missing."""
    if importlib.util.find_spec("locust") is not None:
        return
    log("installing the benchmark tools (requirements-bench.txt)…")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "-r", str(ROOT / "requirements-bench.txt")],
        check=True,
    )


def _server_env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
            "SECRET_KEY": secrets.token_urlsafe(50),
            # Production refuses to start without its own account keys (and refuses the
            # published development key). Nothing measured here opens an account: a key
            # made for this run serves.
            "PAYEE_ACCOUNT_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DEBUG": "false",
            "LOG_LEVEL": "WARNING",
            # Connections kept for the whole measurement, so the CPU of each PostgreSQL
            # backend is counted from its start to its end.
            "CONN_MAX_AGE": "600",
        }
    )
    # Visit logging and the admin list queue nothing; the workers share the cache (the token
    # cache, the throttles): Redis, as in production.
    redis_url = env.pop("REDIS_URL", None)
    if redis_url:
        env.setdefault("REDIS_CACHE_URL", redis_url)
    return env


# --- preparation (runs in a subprocess with Django set up) ------------------------------------


def prepare(database_url: str) -> dict:
    """Create or refresh the benchmark's users and pick the elders, the street and the ID
    number the requests use. Returns what the load and the admin requests need."""
    os.environ.update(_server_env(database_url))
    import django

    django.setup()
    import datetime

    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from accounts.choices import Role
    from accounts.services import assign_role
    from regions.choices import RegionLevel
    from regions.models import Region
    from residents.models import Elder
    from visits.models import VisitWorker
    from visits.services import assign_worker

    # As in production: the admin's pages name their static files through the manifest.
    call_command("collectstatic", interactive=False, verbosity=0)
    alive = Elder.objects.filter(death_date__isnull=True)
    streets = Region.objects.filter(level=RegionLevel.STREET, is_active=True).order_by("code")
    # The street with most elders living there: the busiest worker's area.
    street = max(
        streets,
        key=lambda s: alive.filter(residence_region__path__startswith=s.path).count(),
        default=None,
    )
    if street is None:
        raise SystemExit("no street in the database: load the regions and the elders first")
    elders = list(
        alive.filter(residence_region__path__startswith=street.path)
        .order_by("?")
        .values_list("pk", flat=True)[:ELDER_SAMPLE]
    )
    if not elders:
        raise SystemExit(f"no living elder resides in {street.name}: generate elders first")

    visitor, _ = User.objects.get_or_create(username=VISITOR, defaults={"is_active": True})
    assign_role(user=visitor, role=Role.STREET_WORKER, region=street)
    if not VisitWorker.objects.filter(user=visitor, area=street, end_date__isnull=True).exists():
        assign_worker(
            user=visitor,
            area=street,
            start_date=datetime.date.today() - datetime.timedelta(days=365),
            note="benchmark",
        )
    token, _ = Token.objects.get_or_create(user=visitor)

    password = secrets.token_urlsafe(16)
    admin, _ = User.objects.get_or_create(username=ADMIN)
    admin.is_staff = admin.is_superuser = admin.is_active = True
    admin.set_password(password)
    admin.save()

    total = Elder.objects.count()
    searched = Elder.objects.filter(pk=elders[len(elders) // 2]).values_list("id_number", flat=True)
    with connection.cursor() as cursor:
        # What autovacuum does to a table in service: planner statistics, and the visibility
        # map that lets counts and OFFSET scans read indexes alone. Right after a bulk COPY
        # neither exists yet, and the plans would be those of a table nobody maintains.
        cursor.execute("VACUUM ANALYZE")
    return {
        "token": token.key,
        "elders": elders,
        "street": street.code,
        "street_name": street.name,
        "admin_username": ADMIN,
        "admin_password": password,
        "id_number": searched.get(),
        "elder_count": total,
        "later_page": max(2, min(LATER_PAGE, total // 100 // 2)),
    }


def _prepare_in_subprocess(database_url: str) -> dict:
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "prepare", "--database-url", database_url],
        cwd=ROOT,
        env=_server_env(database_url),
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- the server ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorn(
    database_url: str, *, workers: int, worker_class: str, port: int, log_file: Path
) -> Iterator[tuple[str, subprocess.Popen]]:
    """gunicorn serving the project on 127.0.0.1:``port`` until the block ends."""
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        worker_class,
        "--log-level",
        "warning",
    ]
    if worker_class == "gthread":
        command += ["--threads", "4"]
    with open(log_file, "w") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=_server_env(database_url), stdout=log, stderr=log
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health/", timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start; see {log_file}")
            time.sleep(0.3)
        yield url, process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- visit logging under load ------------------------------------------------------------------


def run_locust(url: str, info_file: Path, *, duration: int, rate: float, out_dir: Path) -> dict:
    """Locust headless at ``rate`` requests/s for ``duration`` seconds; the stats of the run."""
    users = max(1, min(PHONES, int(rate)))
    prefix = out_dir / f"locust-{duration}s"
    env = dict(os.environ)
    env.update({"BENCH_WEB_INFO": str(info_file), "BENCH_WEB_USER_RATE": str(rate / users)})
    subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(ROOT / "bench" / "locustfile.py"),
            "--headless",
            "--host",
            url,
            "--users",
            str(users),
            "--spawn-rate",
            str(users),
            "--run-time",
            f"{duration}s",
            "--stop-timeout",
            "10",
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "WARNING",
            "--exit-code-on-error",
            "0",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with open(f"{prefix}_stats.csv", newline="", encoding="utf-8") as handle:
        row = next(r for r in csv.DictReader(handle) if r["Name"] == "Aggregated")
    return {
        "requests": int(row["Request Count"]),
        "failures": int(row["Failure Count"]),
        "rps": float(row["Requests/s"]),
        "p50": float(row["50%"]),
        "p90": float(row["90%"]),
        "p99": float(row["99%"]),
        "max": float(row["Max Response Time"]),
    }


def _cpu_times() -> tuple[float, float]:
    """(busy, total) CPU seconds of the machine since boot, from /proc/stat."""
    with open("/proc/stat") as handle:
        fields = [float(x) for x in handle.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _server_cpu(server: subprocess.Popen, database: str) -> dict[int, float]:
    """CPU seconds used so far by each gunicorn worker and each PostgreSQL backend connected
    to ``database``, by process id."""
    import psutil

    def seconds(process) -> float:
        times = process.cpu_times()
        return times.user + times.system

    used = {}
    for process in psutil.Process(server.pid).children():
        with contextlib.suppress(psutil.Error):
            used[process.pid] = seconds(process)
    for process in psutil.process_iter(["cmdline"]):
        title = " ".join(process.info["cmdline"] or [])
        if title.startswith("postgres:") and f" {database} " in title:
            with contextlib.suppress(psutil.Error):
                used[process.pid] = seconds(process)
    return used


def _cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


# --- the admin list ------------------------------------------------------------------------------


def _percentile(samples: list[float], share: float) -> float:
    """Nearest-rank percentile (with 20 samples, the 99th is the slowest)."""
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]


def measure_admin(url: str, info: dict, *, requests_each: int) -> dict[str, dict]:
    """Median and p99 of the elders changelist as a signed-in superuser: page 1, a later page,
    a search by exact ID number, and a filter by street of residence."""
    import requests

    session = requests.Session()
    login = f"{url}/admin/login/"
    session.get(login, timeout=30)
    response = session.post(
        login,
        data={
            "username": info["admin_username"],
            "password": info["admin_password"],
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "next": "/admin/",
        },
        timeout=30,
    )
    if "sessionid" not in session.cookies:
        raise RuntimeError(f"admin login failed ({response.status_code})")
    changelist = f"{url}/admin/residents/elder/"
    cases = {
        "page 1": {},
        f"page {info['later_page']}": {"p": str(info["later_page"])},
        "search by ID number": {"q": info["id_number"]},
        f"filter by street ({info['street']})": {"residence": info["street"]},
    }
    results = {}
    for name, params in cases.items():
        timings = []
        for attempt in range(requests_each + 1):
            started = time.perf_counter()
            response = session.get(changelist, params=params, timeout=60)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200 or "/admin/login/" in response.url:
                raise RuntimeError(f"{name}: HTTP {response.status_code} at {response.url}")
            if attempt:  # the first request of each case warms caches and is not counted
                timings.append(elapsed)
        results[name] = {"median": statistics.median(timings), "p99": _percentile(timings, 0.99)}
    return results


# --- CPU per visit, one request at a time -------------------------------------------------------


def measure_cpu(database_url: str, *, requests: int, profile: int = 0) -> dict:
    """Server CPU per visit logged, one request at a time, in this process: Django's test
    client posts ``requests`` visits (after a warm-up) with the benchmark worker's token
    through the whole middleware stack, and the CPU of this process and of its PostgreSQL
    backend is read before and after. ``/health/`` is measured the same way for comparison.
    With ``profile``, cProfile's ``profile`` heaviest functions (by own time and cumulative)
    are printed. No HTTP server and no load generator: the figure is the application's own."""
    import cProfile
    import io
    import pstats
    import uuid

    import psutil

    info = prepare(database_url)
    from django.db import connection
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Token {info['token']}", SERVER_NAME="127.0.0.1")
    elders = info["elders"]

    def post(i: int) -> None:
        body = {
            "uuid": str(uuid.uuid4()),
            "elder": elders[i % len(elders)],
            "visited_at": time.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
            "mode": "home",
            "outcome": "seen_well",
            "latitude": 30.2874,
            "longitude": 120.1215,
        }
        response = client.post("/api/visits/visits/", body, content_type="application/json")
        if response.status_code != 201:
            raise RuntimeError(f"visit refused: {response.status_code} {response.content[:300]!r}")

    def health(i: int) -> None:
        if client.get("/health/").status_code != 200:
            raise RuntimeError("/health/ failed")

    for i in range(20):
        post(i)
        health(i)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = psutil.Process(cursor.fetchone()[0])

    def cpu(process) -> float:
        times = process.cpu_times()
        return times.user + times.system

    def run(call) -> tuple[float, float]:
        python0, database0 = time.process_time(), cpu(backend)
        for i in range(requests):
            call(i)
        python1, database1 = time.process_time(), cpu(backend)
        return 1000 * (python1 - python0) / requests, 1000 * (database1 - database0) / requests

    visit_python, visit_database = run(post)
    health_python, health_database = run(health)
    result = {
        "requests": requests,
        "visit_python_ms": round(visit_python, 2),
        "visit_postgresql_ms": round(visit_database, 2),
        "visit_total_ms": round(visit_python + visit_database, 2),
        "health_python_ms": round(health_python, 2),
        "health_postgresql_ms": round(health_database, 2),
    }
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for i in range(requests):
            post(i)
        profiler.disable()
        for order in ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(profile)
            print(out.getvalue())
    return result


# --- the whole measurement -----------------------------------------------------------------------


def _row(metric: str, value, unit: str, target: str | None = None, met: bool | None = None):
    return {"metric": metric, "value": value, "unit": unit, "target": target, "met": met}


def measure_web(
    *,
    database_url: str,
    elders: str = "",
    duration: int = 60,
    rate: float = TARGET_RATE,
    workers: int = DEFAULT_WORKERS,
    worker_class: str = DEFAULT_WORKER_CLASS,
    admin_requests: int = ADMIN_REQUESTS,
    warmup: int = WARMUP_SECONDS,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Measure visit logging under load and the elders admin list; return the result rows.

    Arguments:
        database_url: a PostgreSQL URL of a migrated database holding the elders (from
            ``bench/generate.py``); the benchmark users and the posted visits are added to it.
        elders: a label for the size of the registry in the metric names (``"1M"``); empty:
            the elders are counted and the label is that number.
        duration: seconds of recorded load (after ``warmup`` seconds that are not recorded).
        rate: visits posted per second (constant arrival rate; the target is 200).
        workers, worker_class: the gunicorn workers serving the requests.
        admin_requests: timed requests of each admin list case (one more warms it up).
        log: where progress lines go.

    Returns a list of dicts ``{"metric", "value", "unit", "target", "met"}``: ``value`` a
    number, ``target`` a text such as ``"< 50"`` or None, ``met`` True/False against the
    target or None where there is none. Rows: visit logging throughput, p50, p99, max and
    errors; the machine's CPU use during the load; median and p99 of each admin case.

    Needs: the pinned tools of requirements-bench.txt (installed when missing), gunicorn
    (requirements.txt), a free loopback port, and this machine's cores to itself while it runs.
    """
    ensure_tools(log)
    info = _prepare_in_subprocess(database_url)
    label = elders or f"{info['elder_count']:,}"
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        tmp_dir = Path(tmp)
        info_file = tmp_dir / "info.json"
        info_file.write_text(json.dumps(info), encoding="utf-8")
        with gunicorn(
            database_url,
            workers=workers,
            worker_class=worker_class,
            port=_free_port(),
            log_file=tmp_dir / "gunicorn.log",
        ) as (url, server):
            log(f"gunicorn: {workers} {worker_class} workers at {url}")
            if warmup:
                run_locust(url, info_file, duration=warmup, rate=rate, out_dir=tmp_dir)
            log(f"visit logging: {rate:g}/s for {duration} s as a worker of {info['street_name']}")
            database = urlsplit(database_url).path.lstrip("/")
            busy0, total0 = _cpu_times()
            load0 = os.getloadavg()[0]
            server0 = _server_cpu(server, database)
            client0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            stats = run_locust(url, info_file, duration=duration, rate=rate, out_dir=tmp_dir)
            client1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            server_cpu = _cpu_spent(server0, _server_cpu(server, database))
            busy1, total1 = _cpu_times()
            cpu = 100 * (busy1 - busy0) / max(total1 - total0, 1e-9)
            client_cpu = (client1.ru_utime - client0.ru_utime) + (
                client1.ru_stime - client0.ru_stime
            )
            log(f"admin list: {admin_requests} requests per case")
            admin = measure_admin(url, info, requests_each=admin_requests)
    name = f"visit logging at {rate:g}/s ({label} elders)"
    rows += [
        _row(
            f"{name}: throughput",
            round(stats["requests"] / duration, 1),
            "req/s",
            f">= {rate * 0.98:g}",
            stats["requests"] / duration >= rate * 0.98,
        ),
        _row(f"{name}: p50", stats["p50"], "ms"),
        _row(
            f"{name}: p99",
            stats["p99"],
            "ms",
            f"< {TARGET_VISIT_P99_MS:g}",
            stats["p99"] < TARGET_VISIT_P99_MS,
        ),
        _row(f"{name}: max", round(stats["max"], 1), "ms"),
        _row(f"{name}: errors", stats["failures"], "requests", "0", stats["failures"] == 0),
        _row(f"{name}: machine CPU busy", round(cpu, 1), "%"),
        # CPU per visit of the server side (gunicorn workers and their PostgreSQL backends):
        # 2 cores = 2,000 ms of CPU a second, so 2,000 / this is the rate two cores could
        # serve with nothing else running.
        _row(
            f"{name}: server CPU per visit",
            round(1000 * server_cpu / max(stats["requests"], 1), 2),
            "ms",
        ),
        _row(
            f"{name}: load generator CPU per visit",
            round(1000 * client_cpu / max(stats["requests"], 1), 2),
            "ms",
        ),
        _row(f"{name}: load average (1 min) before", round(load0, 2), ""),
    ]
    for case, figures in admin.items():
        for stat in ("median", "p99"):
            value = round(figures[stat], 1)
            rows.append(
                _row(
                    f"elders admin list ({label} elders), {case}: {stat}",
                    value,
                    "ms",
                    f"< {TARGET_ADMIN_MS:g}",
                    value < TARGET_ADMIN_MS,
                )
            )
    return rows


def format_table(rows: list[dict]) -> str:
    width = max(len(r["metric"]) for r in rows)
    lines = [f"{'metric':<{width}}  {'value':>10}  {'unit':<8}  {'target':<8}  met"]
    for r in rows:
        met = "" if r["met"] is None else ("yes" if r["met"] else "NO")
        lines.append(
            f"{r['metric']:<{width}}  {r['value']:>10}  {r['unit']:<8}  {r['target'] or '':<8}  {met}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "command", nargs="?", default="measure", choices=["measure", "prepare", "cpu"]
    )
    parser.add_argument(
        "--database-url", default=os.environ.get("DATABASE_URL"), help="PostgreSQL URL"
    )
    parser.add_argument("--elders", default="", help="label of the registry size, e.g. 1M")
    parser.add_argument("--duration", type=int, default=60, help="seconds of recorded load")
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="visits per second")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    parser.add_argument("--worker-class", default=DEFAULT_WORKER_CLASS)
    parser.add_argument("--admin-requests", type=int, default=ADMIN_REQUESTS)
    parser.add_argument("--warmup", type=int, default=WARMUP_SECONDS)
    parser.add_argument(
        "--requests", type=int, default=300, help="cpu: visits posted one at a time"
    )
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="cpu: print cProfile's N top functions"
    )
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    args = parser.parse_args(argv)
    if not args.database_url or not args.database_url.startswith("postgres"):
        parser.error("--database-url postgres://… is required (or DATABASE_URL)")
    if args.command == "prepare":
        print(json.dumps(prepare(args.database_url)))
        return 0
    if args.command == "cpu":
        os.environ.update(_server_env(args.database_url))
        print(
            json.dumps(measure_cpu(args.database_url, requests=args.requests, profile=args.profile))
        )
        return 0
    rows = measure_web(
        database_url=args.database_url,
        elders=args.elders,
        duration=args.duration,
        rate=args.rate,
        workers=args.workers,
        worker_class=args.worker_class,
        admin_requests=args.admin_requests,
        warmup=args.warmup,
    )
    print(format_table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
