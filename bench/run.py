#!/usr/bin/env python
"""The benchmarks of the allowance run, its floor, the batch exports and the web side.

    python bench/run.py --elders 10000 100000 1000000 --repeat 3 --output table.md
    python bench/run.py --smoke            # CI: 10k elders, once, counts checked, no timing

For each size N, a PostgreSQL database ``<name>_<N>`` (from --database-url, default
``eldercare_bench``) holds N synthetic elders (``bench/generate.py``, regenerated when the
count differs). Measured, each ``--repeat`` times, medians printed:

1. the monthly run of the province (330000) end to end — request, Celery worker processes
   (1 and 2, Redis broker), every chunk, the finish — until the run is done;
2. the floor: the same lines written by one ``INSERT … SELECT`` (the run's own set-based
   statement over every elder at once: no Celery, no chunks, no bookkeeping) into the same
   table with the same constraints and indexes;
3. the write limit, a floor the project did not write: the same computed lines (copied
   aside, untimed) inserted into a table of the same columns with no foreign key, no check
   and no index but the one unique key (scheme, period, elder), committed. run/write limit is
   the headline ratio: what the run costs beyond storing its lines at all;
4. CSV and XLSX export of the run's batch (the service finance calls, and its file writer
   alone), and, at the largest size, of a batch of ``--export-lines`` lines; beside each CSV
   figure the bare ``COPY (SELECT …) TO STDOUT`` of the export's own SELECT into a file,
   nothing else; the first large XLSX is read back by openpyxl (rows and amounts counted);
   ``--exports-only`` measures only the exports of the batches a previous run left;
5. the visits API and the elders admin list (``bench/web_load.py``'s ``measure_web``);
6. scaling: time per elder at each size.

Every row gives the median, min–max and the 1-minute load average sampled around its
repetitions (min–max): on a shared machine a ratio means something only beside the load.

Every measured step runs in its own process, so its peak memory (maximum resident set size)
is its own; for the run, the peak of any Celery worker process. The run's lines must equal the
floor's, and the elders seen the elders alive; otherwise the script fails (it never fails on a
time). Between measurements the run's tables are emptied (TRUNCATE): the databases are the
benchmark's own.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/eldercare_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
REGION = "330000"  # the province: every generated elder is registered below it
SMOKE_ELDERS = 10_000
RUN_TABLES = (
    "subsidies_paymentline",
    "subsidies_allowancerunchunk",
    "subsidies_batchexport",
    "subsidies_bankreturnimport",
    "subsidies_allowancerun",
    "subsidies_historicalpaymentbatch",
    "subsidies_paymentbatch",
)
FINANCE_USER = "bench_finance"
FLOOR_WORK_MEM = "512MB"


def size_label(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def database_for(base_url: str, n: int) -> str:
    parts = urlsplit(base_url)
    name = parts.path.lstrip("/") or "eldercare_bench"
    return parts._replace(path=f"/{name}_{size_label(n).lower()}").geturl()


def _connect(url: str):
    import psycopg

    return psycopg.connect(url, autocommit=True)


def elder_count(url: str) -> int | None:
    import psycopg

    try:
        with _connect(url) as connection:
            return connection.execute("SELECT count(*) FROM residents_elder").fetchone()[0]
    except psycopg.Error:
        return None


def empty_run_tables(url: str) -> None:
    with _connect(url) as connection:
        connection.execute(f"TRUNCATE {', '.join(RUN_TABLES)} RESTART IDENTITY CASCADE")
        connection.execute("VACUUM ANALYZE subsidies_paymentline")


def server_facts(url: str) -> dict:
    with _connect(url) as connection:
        version = connection.execute("SHOW server_version").fetchone()[0]
    memory_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return {"postgres": version, "cores": os.cpu_count(), "ram_gb": round(memory_kb / 2**20, 1)}


# --- steps, each in its own process ---------------------------------------------------------


def _step_env(url: str, redis_url: str) -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        REDIS_URL=redis_url,
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DEBUG="false",
        LOG_LEVEL="WARNING",
    )
    return env


def run_step(url: str, redis_url: str, step: str, **options) -> dict:
    """Run ``bench/run.py --step STEP`` in a fresh process; its last stdout line is JSON, to
    which the 1-minute load average before and after the step is added (``load``)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--step", step]
    for key, value in options.items():
        if value is True:
            command.append(f"--{key.replace('_', '-')}")
        elif value is not False and value is not None:
            command += [f"--{key.replace('_', '-')}", str(value)]
    before = os.getloadavg()[0]
    done = subprocess.run(
        command, env=_step_env(url, redis_url), capture_output=True, text=True, cwd=ROOT
    )
    if done.returncode != 0:
        raise RuntimeError(f"step {step} failed:\n{done.stdout}\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["load"] = [before, os.getloadavg()[0]]
    return result


def _setup(url: str) -> None:
    from bench.generate import setup_django

    setup_django(url)


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def step_floor(period: datetime.date) -> dict:
    """One INSERT … SELECT of the whole province's lines, timed, committed."""
    from django.db import connection, transaction
    from django.db.models import Max, Min

    from regions.models import Region
    from residents.models import Elder
    from subsidies.choices import BatchKind
    from subsidies.models import PaymentBatch
    from subsidies.run.lines import chunk_statement, insert_lines
    from subsidies.run.rates import plan_period
    from subsidies.schemes import active_schemes

    region = Region.objects.get(code=REGION)
    plan = plan_period(region, period, active_schemes())
    batch = PaymentBatch.objects.create(region=region, period=period, kind=BatchKind.REGULAR)
    bounds = Elder.objects.aggregate(low=Min("id"), high=Max("id"))
    everyone = chunk_statement(
        plan, region_path=region.path, id_from=bounds["low"], id_to=bounds["high"]
    )
    started = time.perf_counter()
    with transaction.atomic():
        # The floor gets its best chance: memory enough that its million-row joins and sort
        # stay in RAM (the run's 20k-elder chunks fit in the default 4 MB; one statement over
        # every elder does not, and would spill to disk).
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL work_mem = '{FLOOR_WORK_MEM}'")
        seen, written = insert_lines(everyone, batch=batch.pk, count_elders=True)
    seconds = time.perf_counter() - started
    connection.close()
    return {"seconds": seconds, "lines": written, "elders": seen, "peak_mb": None}


WRITE_LIMIT_SOURCE = "bench_write_limit_source"
WRITE_LIMIT_TABLE = "bench_write_limit"


def step_write_limit() -> dict:
    """The write limit: the regular batch's lines, already computed (copied aside first,
    untimed), inserted with ``ON CONFLICT DO NOTHING`` into a table of the same columns (ids
    from an identity of its own) with no foreign key, no check and one index, the unique key
    (scheme, period, elder) of the real table with its condition, and committed. No run can
    store the same lines with the same guarantee for less."""
    from django.db import connection, transaction

    from subsidies.choices import BatchKind, LineKind
    from subsidies.models import PaymentBatch, PaymentLine

    batch = PaymentBatch.objects.get(kind=BatchKind.REGULAR)
    table = PaymentLine._meta.db_table
    columns = ", ".join(
        f'"{f.column}"' for f in PaymentLine._meta.concrete_fields if not f.primary_key
    )
    kinds = ", ".join(f"'{k}'" for k in (LineKind.NORMAL, LineKind.ARREARS))
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {WRITE_LIMIT_SOURCE}, {WRITE_LIMIT_TABLE}")
        cursor.execute(
            f"CREATE TABLE {WRITE_LIMIT_SOURCE} AS SELECT {columns} FROM {table} "
            "WHERE batch_id = %s ORDER BY id",
            [batch.pk],
        )
        cursor.execute(f"VACUUM ANALYZE {WRITE_LIMIT_SOURCE}")
        cursor.execute(
            f"CREATE TABLE {WRITE_LIMIT_TABLE} (LIKE {table} INCLUDING DEFAULTS INCLUDING IDENTITY)"
        )
        cursor.execute(
            f"CREATE UNIQUE INDEX {WRITE_LIMIT_TABLE}_key ON {WRITE_LIMIT_TABLE} "
            f"(scheme_id, period, elder_id) WHERE kind IN ({kinds})"
        )
        cursor.execute("CHECKPOINT")  # the copy's dirty pages are not the measure's to write
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {WRITE_LIMIT_TABLE} ({columns}) SELECT {columns} "
            f"FROM {WRITE_LIMIT_SOURCE} ON CONFLICT DO NOTHING"
        )
        written = cursor.rowcount
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {WRITE_LIMIT_SOURCE}, {WRITE_LIMIT_TABLE}")
    connection.close()
    return {"seconds": seconds, "lines": written, "peak_mb": None}


def step_copy_floor(batch_id: int, output: str) -> dict:
    """The export's floor: ``COPY (SELECT …) TO STDOUT`` of the export's own SELECT (the
    same cells, joins, filter and order; the same session settings) into a file, and
    nothing else: no header, no line-end rewrite, no totals, no checksum, no record."""
    from django.db import connection, transaction

    from subsidies import exporting
    from subsidies.choices import LineStatus

    select = getattr(exporting, "_COPY_SQL", None)
    if select is None:
        return {"seconds": None, "lines": 0, "peak_mb": None, "missing": True}
    params = [batch_id, LineStatus.CANCELLED.value]
    if hasattr(exporting, "_Plan"):  # the export's own SELECT, as it builds it for a batch
        from subsidies.models import PaymentBatch

        plan = exporting._Plan(PaymentBatch.objects.get(pk=batch_id))
        select, params = exporting._select(plan, exporting._copy_cells)
    started = time.perf_counter()
    with open(output, "wb") as handle, transaction.atomic(), connection.cursor() as cursor:
        tune = getattr(exporting, "_tune_for_export", None)
        if tune:
            tune(cursor)
        raw = cursor.cursor
        with raw.copy(f"COPY ({select}) TO STDOUT (FORMAT csv)", params) as copy:
            for block in copy:
                handle.write(block)
        lines = raw.rowcount
    seconds = time.perf_counter() - started
    Path(output).unlink()
    return {"seconds": seconds, "lines": lines, "peak_mb": _peak_mb()}


def step_run(period: datetime.date, queue: str) -> dict:
    """Request the run as the admin does (queued after commit), wait until it is done."""
    from celery import current_app
    from django.utils import timezone

    from regions.models import Region
    from residents.models import Elder
    from subsidies.choices import RunStatus
    from subsidies.models import AllowanceRun
    from subsidies.run.planning import request_allowance_run

    current_app.conf.task_default_queue = queue
    current_app.send_task("config.ping", queue=queue).get(timeout=120)  # the worker listens
    region = Region.objects.get(code=REGION)
    started = time.perf_counter()
    run = request_allowance_run(region=region, period=period)
    while True:
        status = AllowanceRun.objects.values_list("status", flat=True).get(pk=run.pk)
        if status in (RunStatus.DONE, RunStatus.FAILED):
            break
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    run.refresh_from_db()
    if run.status != RunStatus.DONE:
        raise RuntimeError(f"run failed: {run.error}")
    alive = Elder.objects.filter(hukou_region__path__startswith=region.path).exclude(
        death_date__lt=period
    )
    return {
        "seconds": seconds,
        "lines": run.lines_total,
        "elders": run.elders_seen,
        "alive": alive.count(),
        "chunks": run.chunks_total,
        "finished": timezone.localtime(run.finished_at).isoformat(),
    }


def _finance():
    from django.contrib.auth import get_user_model

    user, created = get_user_model().objects.get_or_create(
        username=FINANCE_USER, defaults={"is_superuser": True, "is_staff": True}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def step_export(
    batch_id: int, fmt: str, output: str, writer: bool = False, check: bool = False
) -> dict:
    """export_batch as finance calls it; ``writer``: only the file writer it calls
    (subsidies.exporting.write_csv / write_xlsx: no holding pass, no record). ``check``: after
    the timing, the XLSX read back by openpyxl (read-only), a reader other than the writer:
    every detail row counted and its amount summed, against the export's totals."""
    from subsidies import exporting
    from subsidies.batches import approve_batch
    from subsidies.choices import BatchState
    from subsidies.exports import export_batch
    from subsidies.models import PaymentBatch

    batch = PaymentBatch.objects.select_related("region").get(pk=batch_id)
    finance = _finance()
    if batch.state == BatchState.DRAFT:
        batch = approve_batch(batch=batch, by=finance)
    started = time.perf_counter()
    if writer:
        write = exporting.write_csv if fmt == "csv" else exporting.write_xlsx
        files = write(batch, Path(output))
        lines, amount = files.count, files.amount
    else:
        record = export_batch(batch=batch, fmt=fmt, output=Path(output), by=finance)
        lines, amount = record.line_count, record.total_amount
    seconds = time.perf_counter() - started
    size = Path(output).stat().st_size
    result = {"seconds": seconds, "lines": lines, "bytes": size, "peak_mb": _peak_mb()}
    if check and fmt == "xlsx":
        result.update(_read_back(Path(output), lines, amount))
    for path in Path(output).parent.glob(Path(output).stem + "*"):
        path.unlink()
    return result


def _read_back(path: Path, lines: int, amount) -> dict:
    """The XLSX opened by openpyxl in read-only mode: its detail rows (明细…, header apart)
    and the sum of their amounts must be the export's; fails otherwise."""
    from decimal import Decimal

    import openpyxl

    from subsidies.exporting import AMOUNT_INDEX

    started = time.perf_counter()
    book = openpyxl.load_workbook(path, read_only=True)
    rows, total = 0, Decimal("0")
    for sheet in book.worksheets[1:]:
        for row in sheet.iter_rows(min_row=2, values_only=True):
            rows += 1
            total += Decimal(str(row[AMOUNT_INDEX]))
    book.close()
    if rows != lines or total != amount:
        raise SystemExit(
            f"the XLSX read back holds {rows} lines of {total}, not {lines} of {amount}"
        )
    return {"read_back_rows": rows, "read_back_s": time.perf_counter() - started}


def step_big_batch(lines: int) -> dict:
    """A batch of at least ``lines`` lines for the export measurement: the regular batch's
    lines repeated as arrears of the months before it, in one adjustment batch (a backlog
    paid at once). Written by SQL; not timed."""
    from django.db import connection

    from subsidies.choices import BatchKind, LineKind
    from subsidies.models import PaymentBatch

    regular = PaymentBatch.objects.get(kind=BatchKind.REGULAR)
    per_month = regular.lines.count()
    if not per_month:
        return {"batch": regular.pk, "lines": 0, "months": 0}
    months = -(-lines // per_month)
    made = PaymentBatch.objects.filter(
        region=regular.region, period=regular.period, kind=BatchKind.ADJUSTMENT
    ).first()
    if made is not None and made.lines.count() >= lines:  # --exports-only: the one made before
        return {"batch": made.pk, "lines": made.lines.count(), "months": months}
    big = PaymentBatch.objects.create(
        region=regular.region, period=regular.period, kind=BatchKind.ADJUSTMENT
    )
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO subsidies_paymentline
                (batch_id, scheme_id, period, elder_id, amount, kind, status, policy_value_id,
                 inputs, note, bank_reference, bank_message, created_at)
            SELECT %s, l.scheme_id, (l.period - make_interval(months => m))::date, l.elder_id,
                   l.amount, %s, l.status, l.policy_value_id, l.inputs, '', '', '', now()
            FROM subsidies_paymentline l CROSS JOIN generate_series(1, %s) AS m
            WHERE l.batch_id = %s
            ORDER BY m, l.id
            LIMIT %s
            """,
            [big.pk, LineKind.ARREARS, months, regular.pk, lines],
        )
        cursor.execute("ANALYZE subsidies_paymentline")
    return {"batch": big.pk, "lines": big.lines.count(), "months": months}


def step_batch() -> dict:
    from subsidies.choices import BatchKind
    from subsidies.models import PaymentBatch

    batch = PaymentBatch.objects.get(kind=BatchKind.REGULAR)
    return {"batch": batch.pk, "lines": batch.lines.count()}


# --- Celery workers ---------------------------------------------------------------------------


class Workers:
    """``celery worker --concurrency N`` on a queue of its own; peak memory read from
    /proc (VmHWM) of the main process and each pool process before it stops."""

    def __init__(self, url: str, redis_url: str, concurrency: int):
        self.queue = f"bench-{os.getpid()}-{concurrency}-{time.monotonic_ns()}"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                f"--concurrency={concurrency}",
                "--pool=prefork",
                "-Q",
                self.queue,
                "-n",
                f"{self.queue}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=WARNING",
            ],
            env=_step_env(url, redis_url),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def _pids(self) -> list[int]:
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            children = []
        return [pid, *map(int, children)]

    def peak_mb(self) -> float:
        peaks = []
        for pid in self._pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        return round(max(peaks, default=0.0), 1)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- orchestration ----------------------------------------------------------------------------


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _copy_floor(url, redis_url, batch_id, output, results, key, attempt, repeat, log) -> None:
    """The bare COPY of the export's SELECT, measured right after the export it floors."""
    out = run_step(url, redis_url, "copy-floor", batch=batch_id, output=output)
    if out.get("missing"):
        return
    results.setdefault(key, []).append(out)
    log(f"  [{attempt}/{repeat}] bare COPY: {out['lines']:,} lines in {out['seconds']:.2f} s")


def _ensure_elders(url: str, n: int, log, *, fresh: bool = False) -> None:
    have = None if fresh else elder_count(url)
    if have == n:
        log(f"{url.rsplit('/', 1)[-1]}: {n:,} elders already there")
        return
    log(f"{url.rsplit('/', 1)[-1]}: generating {n:,} elders (had {have})")
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "generate.py"),
            "--elders",
            str(n),
            "--database-url",
            url,
            "--reset",
        ],
        check=True,
        cwd=ROOT,
        env={**os.environ, "DEBUG": "false", "LOG_LEVEL": "WARNING"},
    )


def measure_size(
    url: str,
    n: int,
    *,
    repeat: int,
    workers: list[int],
    redis_url: str,
    period: datetime.date,
    export_lines: int,
    formats: list[str],
    log,
    exports_only: bool = False,
) -> dict:
    """Every measurement at one size; raises when counts disagree. ``exports_only``: the
    exports of the batches already there (the run's, and the large one), nothing else."""
    results: dict[str, list[dict]] = {"floor": [], "write_limit": []}
    for count in workers:
        results[f"run_{count}"] = []
    load = [os.getloadavg()[0]]
    for attempt in range(1, 0 if exports_only else repeat + 1):
        empty_run_tables(url)
        floor = run_step(url, redis_url, "floor", period=period.strftime("%Y-%m"))
        results["floor"].append(floor)
        log(f"  [{attempt}/{repeat}] floor: {floor['lines']:,} lines in {floor['seconds']:.2f} s")
        limit = run_step(url, redis_url, "write-limit")
        results["write_limit"].append(limit)
        log(
            f"  [{attempt}/{repeat}] write limit: {limit['lines']:,} lines in "
            f"{limit['seconds']:.2f} s"
        )
        if limit["lines"] != floor["lines"]:
            raise SystemExit(
                f"wrong counts at {n:,} elders: the write limit stored {limit['lines']} lines "
                f"of the floor's {floor['lines']}"
            )
        for count in workers:
            empty_run_tables(url)
            pool = Workers(url, redis_url, count)
            try:
                measured = run_step(
                    url, redis_url, "run", period=period.strftime("%Y-%m"), queue=pool.queue
                )
                measured["peak_mb"] = pool.peak_mb()
            finally:
                pool.stop()
            results[f"run_{count}"].append(measured)
            log(
                f"  [{attempt}/{repeat}] run, {count} worker(s): {measured['lines']:,} lines, "
                f"{measured['chunks']} chunks in {measured['seconds']:.2f} s, "
                f"peak {measured['peak_mb']} MB"
            )
            if measured["lines"] != floor["lines"] or measured["elders"] != measured["alive"]:
                raise SystemExit(
                    f"wrong counts at {n:,} elders: run wrote {measured['lines']} lines, the "
                    f"floor {floor['lines']}; run saw {measured['elders']} elders, "
                    f"{measured['alive']} alive"
                )
        load.append(os.getloadavg()[0])
    batch = run_step(url, redis_url, "batch")
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:

        def export(batch_id, fmt, key, title, **options):
            out = run_step(
                url,
                redis_url,
                "export",
                batch=batch_id,
                format=fmt,
                output=f"{tmp}/{key}.{fmt}",
                **options,
            )
            results[key].append(out)
            read_back = out.get("read_back_rows")
            log(
                f"  {title}: {out['lines']:,} lines in {out['seconds']:.2f} s"
                + (f"; read back by openpyxl: {read_back:,} rows" if read_back else "")
            )

        for fmt in formats:
            key = f"export_{fmt}"
            results[key] = []
            results[f"writer_{fmt}"] = []
            for attempt in range(1, repeat + 1):
                export(batch["batch"], fmt, key, f"[{attempt}/{repeat}] {fmt}")
                # The file writer alone: export_batch less its holding pass and its record.
                export(
                    batch["batch"],
                    fmt,
                    f"writer_{fmt}",
                    f"[{attempt}/{repeat}] {fmt} writer",
                    writer=True,
                )
                if fmt == "csv":
                    _copy_floor(
                        url,
                        redis_url,
                        batch["batch"],
                        f"{tmp}/floor.csv",
                        results,
                        "copy_floor",
                        attempt,
                        repeat,
                        log,
                    )
        if export_lines:
            big = run_step(url, redis_url, "big-batch", lines=export_lines)
            log(f"  batch of {big['lines']:,} lines built ({big['months']} months)")
            for fmt in formats:
                key = f"export_big_{fmt}"
                results[key] = []
                results[f"writer_big_{fmt}"] = []
                times = repeat
                for attempt in range(1, times + 1):
                    # The service, its first XLSX read back by openpyxl after the timing; then
                    # the file writer alone.
                    for label, options in (
                        (key, {"check": fmt == "xlsx" and attempt == 1}),
                        (f"writer_big_{fmt}", {"writer": True}),
                    ):
                        export(big["batch"], fmt, label, f"[{attempt}/{times}] {label}", **options)
                    if fmt == "csv":
                        _copy_floor(
                            url,
                            redis_url,
                            big["batch"],
                            f"{tmp}/big-floor.csv",
                            results,
                            "copy_floor_big",
                            attempt,
                            times,
                            log,
                        )
    load.append(os.getloadavg()[0])
    results["load"] = load
    return results


WRITE_LIMIT = "write limit: same lines, no FK, unique key only"
OWN_FLOOR = "floor: one INSERT … SELECT"
COPY_FLOOR = "bare COPY of the export's SELECT"


def summarise(n: int, results: dict, workers: list[int]) -> list[dict]:
    """One row per measure; ``vs_limit`` is the ratio to the independent floor (the write
    limit for the run and its own floor, the bare COPY for a CSV export), ``vs_floor`` the
    run's ratio to its own single-statement floor."""
    rows = []

    def median_of(key):
        runs = results.get(key) or []
        return _median([r["seconds"] for r in runs])

    floor, limit = median_of("floor"), median_of("write_limit")

    def row(measure, runs, *, limit_s=None, floor_s=None):
        if not runs:
            return  # not measured (--exports-only)
        seconds = _median([r["seconds"] for r in runs])
        lines = runs[-1]["lines"]
        loads = [value for r in runs for value in r.get("load", [])]
        rows.append(
            {
                "elders": n,
                "measure": measure,
                "runs": len(runs),
                "median_s": seconds,
                "min_s": min(r["seconds"] for r in runs),
                "max_s": max(r["seconds"] for r in runs),
                "lines": lines,
                "lines_per_s": lines / seconds if seconds else None,
                "us_per_elder": seconds / n * 1e6
                if measure.startswith(("run", "floor", "write limit"))
                else None,
                "peak_mb": _median([r.get("peak_mb") for r in runs]),
                "vs_limit": seconds / limit_s if limit_s else None,
                "vs_floor": seconds / floor_s if floor_s else None,
                "load_min": min(loads) if loads else None,
                "load_max": max(loads) if loads else None,
            }
        )

    if results.get("write_limit"):
        row(WRITE_LIMIT, results["write_limit"])
    row(OWN_FLOOR, results["floor"], limit_s=limit)
    for count in workers:
        row(f"run, {count} Celery worker(s)", results[f"run_{count}"], limit_s=limit, floor_s=floor)
    for fmt in ("csv", "xlsx"):
        if f"export_{fmt}" not in results:
            continue
        copy = median_of("copy_floor") if fmt == "csv" else None
        if copy:
            row(f"{COPY_FLOOR} (the run's batch)", results["copy_floor"])
        row(f"export {fmt.upper()} (the run's batch)", results[f"export_{fmt}"], limit_s=copy)
        if results.get(f"writer_{fmt}"):
            row(
                f"{fmt.upper()} file writer alone (the run's batch)",
                results[f"writer_{fmt}"],
                limit_s=copy,
            )
        if f"export_big_{fmt}" in results:
            big = results[f"export_big_{fmt}"][-1]["lines"]
            copy = median_of("copy_floor_big") if fmt == "csv" else None
            if copy:
                row(f"{COPY_FLOOR} (batch of {big:,})", results["copy_floor_big"])
            row(
                f"export {fmt.upper()} (batch of {big:,})",
                results[f"export_big_{fmt}"],
                limit_s=copy,
            )
            if results.get(f"writer_big_{fmt}"):
                row(
                    f"{fmt.upper()} file writer alone (batch of {big:,})",
                    results[f"writer_big_{fmt}"],
                    limit_s=copy,
                )
    return rows


def _cell(value, pattern: str) -> str:
    return pattern.format(value) if value is not None else ""


def format_table(rows: list[dict]) -> str:
    header = (
        "| elders | measure | runs | median s | min–max s | lines | lines/s | µs/elder "
        "| peak MB | × write limit / bare COPY | × own floor | load avg |"
    )
    lines = [header, "|" + "---|" * 12]
    for r in rows:
        load = f"{r['load_min']:.1f}–{r['load_max']:.1f}" if r["load_min"] is not None else ""
        lines.append(
            f"| {r['elders']:,} | {r['measure']} | {r['runs']} | {r['median_s']:.3f} "
            f"| {r['min_s']:.3f}–{r['max_s']:.3f} | {r['lines']:,} "
            f"| {_cell(r['lines_per_s'], '{:,.0f}')} | {_cell(r['us_per_elder'], '{:.1f}')} | "
            + (f"{r['peak_mb']:.0f}" if r["peak_mb"] is not None else "(in PostgreSQL)")
            + f" | {_cell(r['vs_limit'], '{:.2f}×')} | {_cell(r['vs_floor'], '{:.2f}×')} "
            f"| {load} |"
        )
    return "\n".join(lines)


def scaling_table(rows: list[dict], workers: list[int]) -> str:
    sizes = sorted({r["elders"] for r in rows})
    if len(sizes) < 2:
        return ""
    out = [
        "| measure | "
        + " | ".join(f"{size_label(s)} µs/elder" for s in sizes)
        + f" | {size_label(sizes[-1])} / {size_label(sizes[0])} |",
        "|" + "---|" * (len(sizes) + 2),
    ]
    measures = [WRITE_LIMIT, OWN_FLOOR] + [f"run, {c} Celery worker(s)" for c in workers]
    for measure in measures:
        per = {r["elders"]: r["us_per_elder"] for r in rows if r["measure"] == measure}
        if not all(s in per for s in sizes):
            continue
        out.append(
            f"| {measure} | "
            + " | ".join(f"{per[s]:.1f}" for s in sizes)
            + f" | {per[sizes[-1]] / per[sizes[0]]:.2f}× |"
        )
    return "\n".join(out)


def web_section(url: str, n: int, duration: int, log) -> str:
    try:
        from bench.web_load import format_table as web_table
        from bench.web_load import measure_web
    except ImportError:
        return "web section not available (bench/web_load.py is missing)"
    rows = measure_web(database_url=url, elders=size_label(n), duration=duration, log=log)
    return web_table(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--elders", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--repeat-large",
        type=int,
        help="repetitions at 1M elders and more (default: --repeat); a million takes a while",
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--smoke", action="store_true", help="10k elders, once, no web section")
    parser.add_argument("--output", help="also write the tables (Markdown) to this file")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL),
        help="base URL: each size gets its own database, <name>_<size>",
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or DEFAULT_REDIS)
    parser.add_argument("--period", help="YYYY-MM (default: this month)")
    parser.add_argument(
        "--export-lines",
        type=int,
        default=1_000_000,
        help="at the largest size, also export a batch of this many lines (0: no)",
    )
    parser.add_argument(
        "--formats", nargs="+", default=["csv", "xlsx"], help="export formats to measure"
    )
    parser.add_argument("--web-duration", type=int, default=60)
    parser.add_argument("--no-web", action="store_true")
    parser.add_argument(
        "--exports-only",
        action="store_true",
        help="measure only the exports, of the batches a previous run left",
    )
    # Internal: one measured step in this process.
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--queue", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--format", help=argparse.SUPPRESS)
    parser.add_argument("--lines", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--writer", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--check", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.period:
        period = datetime.datetime.strptime(args.period, "%Y-%m").date()
    else:
        period = datetime.date.today().replace(day=1)

    if args.step:
        _setup(os.environ["DATABASE_URL"])
        steps = {
            "floor": lambda: step_floor(period),
            "run": lambda: step_run(period, args.queue),
            "export": lambda: step_export(
                args.batch, args.format, args.output, writer=args.writer, check=args.check
            ),
            "big-batch": lambda: step_big_batch(args.lines),
            "write-limit": step_write_limit,
            "copy-floor": lambda: step_copy_floor(args.batch, args.output),
            "batch": step_batch,
        }
        print(json.dumps(steps[args.step]()))
        return 0

    if args.smoke:
        args.elders, args.repeat, args.no_web, args.export_lines = [SMOKE_ELDERS], 1, True, 0
        args.database_url = os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/eldercare_bench_smoke"
        )

    def log(message: str) -> None:
        print(message, flush=True)

    began = time.perf_counter()
    facts = server_facts(urlsplit(args.database_url)._replace(path="/postgres").geturl())
    log(
        f"machine: {facts['cores']} cores, {facts['ram_gb']} GB RAM, PostgreSQL "
        f"{facts['postgres']}; load average {os.getloadavg()[0]:.2f}; period {period:%Y-%m}"
    )
    rows, loads = [], {}
    sizes = sorted(args.elders)
    for n in sizes:
        url = args.database_url if args.smoke else database_for(args.database_url, n)
        _ensure_elders(url, n, log, fresh=args.smoke)
        log(f"{n:,} elders:")
        results = measure_size(
            url,
            n,
            repeat=args.repeat_large if args.repeat_large and n >= 1_000_000 else args.repeat,
            workers=args.workers,
            redis_url=args.redis_url,
            period=period,
            export_lines=args.export_lines if n == sizes[-1] else 0,
            formats=args.formats,
            log=log,
            exports_only=args.exports_only,
        )
        loads[n] = results.pop("load")
        rows += summarise(n, results, args.workers)
    report = [
        f"machine: {facts['cores']} cores, {facts['ram_gb']} GB RAM, PostgreSQL {facts['postgres']}",
        f"period {period:%Y-%m}, region {REGION}, {args.repeat} repetition(s) per measure"
        + (f" ({args.repeat_large} at 1M and more)" if args.repeat_large else ""),
        "load average (1 min) during each size: "
        + "; ".join(
            f"{size_label(n)}: " + ", ".join(f"{v:.2f}" for v in vals) for n, vals in loads.items()
        ),
        "",
        format_table(rows),
    ]
    scaling = scaling_table(rows, args.workers)
    if scaling:
        report += ["", scaling]
    if not args.no_web:
        url = database_for(args.database_url, sizes[-1])
        report += ["", web_section(url, sizes[-1], args.web_duration, log)]
    report += ["", f"total {time.perf_counter() - began:.0f} s"]
    text = "\n".join(report)
    print("\n" + text)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
