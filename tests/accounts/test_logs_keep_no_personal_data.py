"""ID numbers never reach the logs: request lines keep their paths without query strings (the
admin's ``?q=`` search, autocomplete's ``?term=``), and what remains is masked — in Django's
loggers, the development server's request lines and gunicorn's access and error logs."""

from __future__ import annotations

import datetime
import io
import logging
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from accounts.masking import MaskPersonalDataFilter, drop_query_strings
from config import gunicorn_conf
from residents.id_numbers import with_check_character

ROOT = Path(__file__).resolve().parents[2]
NUMBER = with_check_character("33010619440312003")


def test_query_strings_are_dropped_and_paths_kept():
    assert (
        drop_query_strings(f'"GET /admin/residents/elder/?q={NUMBER}&p=2 HTTP/1.1" 200 51')
        == '"GET /admin/residents/elder/ HTTP/1.1" 200 51'
    )
    assert drop_query_strings(f"https://care.example/admin/?q={NUMBER}") == (
        "https://care.example/admin/"
    )
    assert drop_query_strings("没有查询串？GET /api/ HTTP/1.1") == "没有查询串？GET /api/ HTTP/1.1"


def record(message, *args, exc_info=None):
    return logging.LogRecord("test", logging.ERROR, __file__, 1, message, args, exc_info)


def test_a_record_loses_its_query_strings_and_numbers_also_in_its_traceback():
    try:
        raise ValueError(f"bad id_number {NUMBER}")
    except ValueError:
        entry = record(
            "Error handling request %s", f"/api/x/?id_number={NUMBER}", exc_info=sys.exc_info()
        )
    MaskPersonalDataFilter().filter(entry)
    text = logging.Formatter().format(entry)
    assert "Error handling request /api/x/" in text
    assert NUMBER not in text and "id_number=" not in text
    assert "ValueError: bad id_number 330106********003" in text


def project_handlers(logger):
    # pytest adds handlers of its own while it captures logs.
    return [h for h in logger.handlers if not type(h).__module__.startswith("_pytest")]


@pytest.fixture
def server_log():
    """The development server's request lines as its handler writes them."""
    handlers = project_handlers(logging.getLogger("django.server"))
    assert handlers, "django.server has no handler of the project's"
    stream = io.StringIO()
    previous = [handler.setStream(stream) for handler in handlers]
    yield stream
    for handler, old in zip(handlers, previous, strict=True):
        handler.setStream(old)


def test_the_development_servers_request_lines_have_no_query_strings(server_log):
    logger = logging.getLogger("django.server")
    assert not logger.propagate
    for handler in project_handlers(logger):
        assert any(isinstance(f, MaskPersonalDataFilter) for f in handler.filters)
    logger.info('"%s" %s %s', f"GET /admin/residents/elder/?q={NUMBER} HTTP/1.1", "200", "51")
    line = server_log.getvalue()
    assert '"GET /admin/residents/elder/ HTTP/1.1" 200 51' in line
    assert NUMBER not in line and "?q=" not in line


def test_every_handler_of_the_root_logger_masks():
    for handler in project_handlers(logging.getLogger()):
        assert any(isinstance(f, MaskPersonalDataFilter) for f in handler.filters), handler


def gunicorn_logger(tmp_path):
    cfg = Config()
    cfg.set("accesslog", str(tmp_path / "access.log"))
    cfg.set("errorlog", str(tmp_path / "error.log"))
    cfg.set("access_log_format", gunicorn_conf.access_log_format)
    return gunicorn_conf.PathOnlyLogger(cfg)


def test_gunicorns_access_and_error_logs_keep_paths_only(tmp_path):
    logger = gunicorn_logger(tmp_path)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/admin/residents/elder/?q={NUMBER}",
        "PATH_INFO": "/admin/residents/elder/",
        "QUERY_STRING": f"q={NUMBER}",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.2",
        "HTTP_REFERER": f"https://care.example/admin/residents/elder/?q={NUMBER}",
        "HTTP_USER_AGENT": "test",
    }
    response = SimpleNamespace(status="200 OK", sent=51, headers=[])
    request = SimpleNamespace(headers=[("REFERER", environ["HTTP_REFERER"])])
    logger.access(response, request, environ, datetime.timedelta(milliseconds=7))
    logger.error("Error handling request %s", f"/api/x/?id_number={NUMBER}")
    access = (tmp_path / "access.log").read_text()
    error = (tmp_path / "error.log").read_text()
    assert (
        '"GET /admin/residents/elder/ HTTP/1.1" 200 51 "https://care.example/admin/residents/elder/"'
        in access
    )
    assert "Error handling request /api/x/" in error
    for text in (access, error):
        assert NUMBER not in text and "q=" not in text and "id_number=" not in text


def test_gunicorn_accepts_the_configuration_file():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "config/gunicorn_conf.py",
            "config.wsgi",
            "--check-config",
        ],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
