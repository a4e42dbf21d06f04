"""End-to-end tests: each role's main flow in headless Chromium against a real server.

The interface the tests use:

- ``e2e_server`` (session): the base URL ("http://127.0.0.1:PORT") of a real server process,
  started once for the session on a fresh database of its own, migrated and loaded with
  ``setup_demo`` (the demo logins admin/bureau/institution/street/finance/auditor, password
  ``demo-pass-2024``, and the demonstration district). Tests change that data, so each test
  picks its own objects (a free bed, an elder with no stay) instead of assuming a fixed state.
  Tests read the server's state through the browser (pages or the API with the page's
  session), never through the ORM: the test process's database is not the server's.
- ``page``: a Playwright Page in a fresh browser context per test (locale zh-CN, Shanghai
  time), whose relative ``page.goto("/admin/")`` resolves against ``e2e_server``.
- ``login(username)``: signs ``page`` in through /admin/login/ and returns the page.
- ``step("short-name")``: a screenshot (of the whole page; ``full_page=False`` for what the
  viewport shows) for the record of the test's steps, kept under
  ``e2e-artifacts/<test-name>/NN-short-name.png`` (a folder git ignores) whether the test
  passes or fails: the record of each flow as a user saw it. When a test fails, a final
  screenshot, the browser console and the server's log are kept with them.

They run as a pytest process of their own (``pytest tests/e2e``; ``python3 dev.py test`` starts
it beside the rest of the suite): the Playwright sync API keeps an asyncio loop marked as
running in the main thread, which Django's ORM refuses to work under, so browser tests and
database tests never share a process (tests/conftest.py leaves tests/e2e out of any run that
does not name it). The server's database is prepared in the background from the end of
collection on. Every test here is marked ``e2e``.

Where they run: Debian's Chromium (``/usr/bin/chromium``, or ``E2E_CHROMIUM``) driven by
Playwright, never a browser build that Playwright would download. Without that browser the
tests are deselected with the reason printed (``python3 dev.py browser`` installs it, as root);
with ``E2E_REQUIRED=1`` (CI) a missing browser fails the run instead. They run on the SQLite leg
(the embedded default, what ``dev.py start`` serves); on the PostgreSQL leg they are deselected
unless ``E2E_ON_POSTGRES=1``, and then the server gets a database ``<name>_e2e`` of its own.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
ARTIFACTS = ROOT / "e2e-artifacts"
CHROMIUM = Path(os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium"))
DEMO_PASSWORD = "demo-pass-2024"
# The machine's network may be closed: without the background-networking flags Chromium waits
# on refused connections (component updates, sync, field trials) and hangs.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_SETTINGS = "config.settings.local"
SERVER_START_TIMEOUT = 60  # seconds for runserver to answer /health/ once the data is loaded
PREPARE_TIMEOUT = 600  # seconds for migrate + setup_demo on a busy machine
ACTION_TIMEOUT_MS = 10_000
NAVIGATION_TIMEOUT_MS = 30_000


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _database_url() -> str:
    return os.environ.get("DATABASE_URL", "")


def _on_postgres() -> bool:
    return _database_url().startswith(("postgres://", "postgresql://", "pgsql://"))


def _browser_missing() -> str | None:
    """Why the browser cannot run here, or None."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium at {CHROMIUM}"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package (pip install -r requirements-dev.txt)"
    return None


def _is_e2e(item) -> bool:
    return HERE in Path(str(item.path)).resolve().parents


def pytest_itemcollected(item):
    # At collection, so that `-m e2e` and `-m "not e2e"` see the marker.
    if _is_e2e(item):
        item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(trylast=True)  # after `-m`/`-k` have deselected what they leave out
def pytest_collection_modifyitems(config, items):
    e2e = [item for item in items if _is_e2e(item)]
    if not e2e:
        return
    others = [item for item in items if not _is_e2e(item)]

    reason = None
    if _on_postgres() and not _truthy("E2E_ON_POSTGRES"):
        reason = "run on the SQLite leg (set E2E_ON_POSTGRES=1 to run them here too)"
    elif missing := _browser_missing():
        if _truthy("E2E_REQUIRED"):
            raise pytest.UsageError(
                f"E2E_REQUIRED is set but the end-to-end tests cannot run: no {missing}. "
                "`python3 dev.py browser` (as root) installs Debian's chromium."
            )
        reason = (
            f"need {missing}; `python3 dev.py browser` (as root) installs Debian's chromium, "
            "or `apt-get install chromium`"
        )
    if reason:
        config.hook.pytest_deselected(items=e2e)
        print(f"\n[deselected {len(e2e)} end-to-end test(s) that {reason}]")
        items[:] = others
    elif others:
        raise pytest.UsageError(
            "the end-to-end tests run in a pytest process of their own (`pytest tests/e2e`): "
            "see tests/e2e/conftest.py"
        )
    elif not config.option.collectonly:
        _server_database()  # prepared while pytest starts up and the browser launches


# --- the server -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _postgres_database(url: str) -> tuple[str, str]:
    """(the server's own database URL, the maintenance URL to create and drop it from)."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "eldercare"
    own = urlunsplit(parts._replace(path=f"/{name}_e2e"))
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    return own, maintenance


def _postgres_recreate(maintenance_url: str, name: str, *, create: bool) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(maintenance_url, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        if create:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


class ServerDatabase:
    """A fresh database for the server, migrated and loaded with ``setup_demo`` in a
    background thread (the work runs in subprocesses), so it can be prepared while the rest
    of the suite runs: the end-to-end tests come last and only wait for what is left."""

    def __init__(self):
        self.workdir = Path(tempfile.mkdtemp(prefix="eldercare-e2e-"))
        self.log_path = self.workdir / "server.log"
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PYTEST_", "DJANGO_"))
        }
        self.env.update(
            DJANGO_SETTINGS_MODULE=SERVER_SETTINGS,
            DEBUG="false",
            PYTHONUNBUFFERED="1",
            MEDIA_ROOT=str(self.workdir / "media"),
            LOG_LEVEL="WARNING",
        )
        self.postgres: tuple[str, str] | None = None
        if _on_postgres():
            self.env["DATABASE_URL"], maintenance = _postgres_database(_database_url())
            self.postgres = (maintenance, urlsplit(self.env["DATABASE_URL"]).path.lstrip("/"))
        else:
            self.env["DATABASE_URL"] = f"sqlite:///{self.workdir / 'e2e.sqlite3'}"
        self.error: BaseException | None = None
        self.current: subprocess.Popen | None = None
        self.stopping = False
        self.thread = threading.Thread(target=self._prepare, name="e2e-database", daemon=True)

    def start(self) -> ServerDatabase:
        self.thread.start()
        return self

    def _prepare(self) -> None:
        try:
            if self.postgres:
                _postgres_recreate(*self.postgres, create=True)
            self._manage("migrate", "--noinput")
            self._manage("setup_demo")
        except BaseException as error:  # handed to the fixture, which fails the tests with it
            self.error = error

    def _manage(self, *args: str) -> None:
        if self.stopping:
            raise RuntimeError("stopped")
        with self.log_path.open("a", encoding="utf-8") as log:
            log.write(f"\n$ manage.py {' '.join(args)}\n")
            log.flush()
            self.current = subprocess.Popen(
                [sys.executable, str(ROOT / "manage.py"), *args],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            if self.current.wait() != 0:
                raise RuntimeError(f"manage.py {' '.join(args)} failed")

    def wait(self) -> None:
        self.thread.join(timeout=PREPARE_TIMEOUT)
        if self.thread.is_alive():
            raise RuntimeError(f"the demo database was not ready within {PREPARE_TIMEOUT} s")
        if self.error is not None:
            raise RuntimeError(f"{self.error}\n{_tail(self.log_path)}") from self.error

    def discard(self) -> None:
        self.stopping = True
        _stop(self.current)
        self.thread.join(timeout=30)
        if self.postgres:
            try:
                _postgres_recreate(*self.postgres, create=False)
            except Exception as error:  # cleaning up: say so, but do not mask the run's result
                print(f"\n[could not drop the end-to-end database: {error}]")
        shutil.rmtree(self.workdir, ignore_errors=True)


_database: ServerDatabase | None = None


def _server_database() -> ServerDatabase:
    global _database
    if _database is None:
        _database = ServerDatabase().start()
    return _database


def pytest_unconfigure(config):
    global _database
    if _database is not None:
        _database.discard()
        _database = None


def _wait_until_up(base_url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base_url}/health/", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the server did not answer within {SERVER_START_TIMEOUT} s")


def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@pytest.fixture(scope="session")
def e2e_server_log() -> Path:
    """The server's log (and its setup's): its tail is kept with a failed test's screenshots."""
    return _server_database().log_path


@pytest.fixture(scope="session")
def e2e_server(e2e_server_log):
    """Base URL of a real server on a fresh, demo-loaded database of its own."""
    database = _server_database()
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    process = None
    try:
        database.wait()
        with e2e_server_log.open("a", encoding="utf-8") as log:
            log.write(f"\n$ manage.py runserver --noreload 127.0.0.1:{port}\n")
            log.flush()
            process = subprocess.Popen(
                [sys.executable, str(ROOT / "manage.py"), "runserver", "--noreload"]
                + [f"127.0.0.1:{port}"],
                cwd=ROOT,
                env=database.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        _wait_until_up(base_url, process)
    except Exception as error:
        _stop(process)
        raise RuntimeError(
            f"the end-to-end server did not start: {error}\n{_tail(e2e_server_log)}"
        ) from error
    try:
        yield base_url
    finally:
        _stop(process)


def _stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- the browser ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def e2e_browser():
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" or report.failed:
        item.e2e_failed = getattr(item, "e2e_failed", False) or report.failed
    return report


def _artifact_name(item) -> str:
    return re.sub(r"[^\w.-]+", "_", item.name).strip("_")[:120]


class StepRecorder:
    """Numbered screenshots of a test's steps; with the console and the server's log when the
    test fails."""

    def __init__(self, page, scratch: Path):
        self.page = page
        self.scratch = scratch
        self.count = 0
        self.console: list[str] = []
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))

    def __call__(self, name: str, *, full_page: bool = True) -> Path:
        self.count += 1
        slug = re.sub(r"[^\w-]+", "-", name).strip("-")[:60] or "step"
        path = self.scratch / f"{self.count:02d}-{slug}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def keep_steps(self, destination: Path) -> None:
        shutil.rmtree(destination, ignore_errors=True)
        shots = sorted(self.scratch.glob("*.png"))
        if shots:
            destination.mkdir(parents=True)
        for shot in shots:
            shutil.copy2(shot, destination / shot.name)

    def keep(self, destination: Path, server_log: Path) -> None:
        try:
            self("final")
        except Exception as error:  # the page may be gone: keep what was recorded
            self.console.append(f"(no final screenshot: {error})")
        self.keep_steps(destination)
        destination.mkdir(parents=True, exist_ok=True)
        (destination / "console.txt").write_text("\n".join(self.console) + "\n")
        (destination / "server-log-tail.txt").write_text(_tail(server_log, 200) + "\n")


@pytest.fixture
def page(request, e2e_server, e2e_browser, e2e_server_log, tmp_path):
    context = e2e_browser.new_context(
        base_url=e2e_server,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        extra_http_headers={"Accept-Language": "zh-CN,zh;q=0.9"},
    )
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
    page = context.new_page()
    recorder = StepRecorder(page, tmp_path)
    request.node.e2e_steps = recorder
    kept = ARTIFACTS / _artifact_name(request.node)
    try:
        yield page
    finally:
        if getattr(request.node, "e2e_failed", False):
            recorder.keep(kept, e2e_server_log)
        else:
            recorder.keep_steps(kept)
        context.close()


@pytest.fixture
def step(request, page):
    """``step("short-name")``: a screenshot for the record of the test's steps."""
    return request.node.e2e_steps


@pytest.fixture
def login(page):
    """``login(username)``: sign ``page`` in through /admin/login/ with the demo password."""

    def sign_in(username: str, password: str = DEMO_PASSWORD):
        page.goto("/admin/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("input[type=submit], button[type=submit]")
        page.wait_for_load_state()
        if "/admin/login/" in page.url:
            errors = page.locator(".errornote, .errorlist").all_inner_texts()
            raise AssertionError(f"{username} could not sign in: {' '.join(errors)}")
        return page

    return sign_in
