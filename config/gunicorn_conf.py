"""gunicorn's settings for production: ``gunicorn config.wsgi -c config/gunicorn_conf.py``.

The access log names each request by its method and path only. A query string can hold an ID
number or a name (the admin's search ``?q=``, autocomplete's ``?term=``), and so can a referer
that carries one; they are left out, and what remains of any line, in the access and the error
log, has ID and mobile numbers masked (accounts.masking).
"""

from __future__ import annotations

import os

from gunicorn.glogging import Logger

from accounts.masking import MaskPersonalDataFilter, mask_log_text

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
accesslog = "-"
errorlog = "-"
# gunicorn's combined format with the request line rebuilt from the path (see atoms below) and
# the time taken in milliseconds.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'

# Atoms that are a query string on their own, or the raw URI with it.
_QUERY_ATOMS = ("q", "{query_string}e", "{raw_uri}e")


class PathOnlyLogger(Logger):
    """Access lines with paths and no query strings; both logs masked."""

    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, MaskPersonalDataFilter) for f in log.filters):
                log.addFilter(MaskPersonalDataFilter())

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["r"] = " ".join(
            (
                environ.get("REQUEST_METHOD", "-"),
                environ.get("PATH_INFO", "") or "/",
                environ.get("SERVER_PROTOCOL", "-"),
            )
        )
        for key in _QUERY_ATOMS:
            if key in atoms:
                atoms[key] = "-"
        return {
            key: mask_log_text(value) if isinstance(value, str) else value
            for key, value in atoms.items()
        }


logger_class = PathOnlyLogger
