#!/usr/bin/env python3
"""The project's two entry points, runnable with nothing but Python 3.11+.

    python3 dev.py start   set up .venv, migrate, load the rulebook and the demonstration
                           district, create the demonstration logins, serve 127.0.0.1:8000
    python3 dev.py test    set up .venv and run the whole test suite (extra args go to pytest)
    python3 dev.py browser provide Debian's Chromium for the end-to-end tests (as root)

Both are idempotent: the virtual environment is rebuilt only when the requirement files
change, and the data loaders upsert, so running `start` twice duplicates nothing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
REQUIREMENTS = [ROOT / "requirements.txt", ROOT / "requirements-dev.txt"]
STAMP = VENV / ".requirements.sha256"
# The end-to-end tests drive Debian's Chromium (Playwright never downloads a browser here); a CJK
# font makes their screenshots legible.
CHROMIUM = Path(os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium"))
BROWSER_PACKAGES = {
    "chromium": CHROMIUM,
    "fonts-wqy-zenhei": "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
}


def run(*args: str | os.PathLike, env: dict | None = None) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    completed = subprocess.run([str(a) for a in args], cwd=ROOT, env=env)
    if completed.returncode != 0:
        sys.exit(completed.returncode)


def requirements_digest() -> str:
    digest = hashlib.sha256()
    for path in REQUIREMENTS:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_venv() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this script runs before the venv exists
        sys.exit(f"Python 3.11 or newer is required (this is {sys.version.split()[0]}).")
    if not PYTHON.exists():
        print(f"Creating the virtual environment in {VENV.name}/", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = requirements_digest()
    if STAMP.exists() and STAMP.read_text().strip() == digest:
        return
    run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PYTHON, "-m", "pip", "install", "--quiet", "-r", ROOT / "requirements-dev.txt")
    STAMP.write_text(digest)


def manage(*args: str, env: dict | None = None) -> None:
    run(PYTHON, ROOT / "manage.py", *args, env=env)


def start(extra: list[str]) -> None:
    ensure_venv()
    manage("migrate", "--noinput")
    manage("setup_demo")
    address = extra[0] if extra else "127.0.0.1:8000"
    print(f"\nServing http://{address}/  (admin: /admin/, API docs: /api/docs/)\n", flush=True)
    manage("runserver", address)


def _apt_install(packages: list[str]) -> bool:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]
    print("+", " ".join(command), flush=True)
    if subprocess.run(command, env=env).returncode == 0:
        return True
    # A stale package index is the usual cause: refresh it once and try again.
    print("+ apt-get update", flush=True)
    subprocess.run(["apt-get", "update", "-q"], env=env)
    return subprocess.run(command, env=env).returncode == 0


def ensure_browser(*, required: bool) -> bool:
    """Debian's Chromium (and a CJK font for legible screenshots) for the end-to-end tests,
    installed with apt-get when missing and this runs as root. Without the browser the tests
    are deselected with the reason printed, unless ``required`` (CI): then the run stops."""
    missing = [pkg for pkg, path in BROWSER_PACKAGES.items() if not Path(path).exists()]
    can_install = os.name == "posix" and os.geteuid() == 0 and shutil.which("apt-get")
    if missing and can_install:
        print(f"Installing {', '.join(missing)} for the end-to-end tests", flush=True)
        _apt_install(missing)
    if CHROMIUM.exists():
        return True
    how = (
        "apt-get did not provide it"
        if can_install
        else "run `python3 dev.py browser` as root (or `sudo apt-get install chromium`)"
    )
    if required:
        sys.exit(f"The end-to-end tests need Chromium at {CHROMIUM}: {how}.")
    print(f"[no Chromium at {CHROMIUM}: the end-to-end tests will be deselected; {how}]")
    return False


def _e2e_wanted() -> bool:
    on_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres", "pgsql"))
    # On the PostgreSQL leg they run only when asked (see tests/e2e/conftest.py).
    return not on_postgres or os.environ.get("E2E_ON_POSTGRES", "") not in {"", "0"}


def test(extra: list[str]) -> None:
    """With arguments, one pytest run with them. Without, the whole suite: the browser tests
    (tests/e2e) in a pytest process of their own, started first and run beside the rest, their
    output printed after it; the exit status is the first failure's."""
    ensure_venv()
    if extra:
        run(PYTHON, "-m", "pytest", *extra)
        return
    e2e = None
    if _e2e_wanted() and ensure_browser(
        required=os.environ.get("E2E_REQUIRED", "") not in {"", "0"}
    ):
        log = open(VENV / "e2e-output.txt", "w+", encoding="utf-8")  # noqa: SIM115
        print("+ (beside the suite) pytest tests/e2e", flush=True)
        e2e = (
            subprocess.Popen(
                [str(PYTHON), "-m", "pytest", "tests/e2e"],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            ),
            log,
        )
    # One pytest worker per core (pytest-xdist), each with its own test database; the slowest
    # tests are listed at the end, so that a test growing slow is seen in CI's log.
    workers = os.environ.get("TEST_WORKERS") or str(max(2, os.cpu_count() or 2))
    command = [str(PYTHON), "-m", "pytest", "-n", workers, "--durations=20"]
    print("+", " ".join(command[1:]), flush=True)
    suite = subprocess.run(command, cwd=ROOT).returncode
    status = suite
    if e2e is not None:
        process, log = e2e
        browser_tests = process.wait()
        log.seek(0)
        print("\n== end-to-end tests (tests/e2e), run beside the suite\n", flush=True)
        sys.stdout.write(log.read())
        sys.stdout.flush()
        log.close()
        status = status or browser_tests
    sys.exit(status)


def browser(extra: list[str]) -> None:
    ensure_browser(required=True)
    print(f"Chromium for the end-to-end tests: {CHROMIUM}")


COMMANDS = {"start": start, "test": test, "browser": browser}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
