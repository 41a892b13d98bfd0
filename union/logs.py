"""Logging of refused requests: one line each, no traceback, nothing about who or what.

Django logs a PermissionDenied (and every other 4xx it turns an exception into) with the full
traceback and the request path. A 403 is the system working as intended, so a traceback only buries
real errors; and the path names private objects (`/roll/members/<code>/`). This filter rewrites
such records to one line with the status and the URL *pattern* (`roll/members/<uuid:member_code>/`),
and drops the traceback. Server errors (5xx) keep their traceback: those are bugs to fix.
"""

from __future__ import annotations

import logging
from http import HTTPStatus


class OneLineClientErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if not isinstance(status, int) or not 400 <= status < 500 or getattr(record, "one_line", False):
            return True
        request = getattr(record, "request", None)
        match = getattr(request, "resolver_match", None)
        route = getattr(match, "route", None) or "-"
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Client error"
        method = getattr(request, "method", None) or "-"
        record.msg, record.args = "%s %s: %s %s", (status, phrase, method, route)
        record.exc_info = record.exc_text = record.stack_info = None
        # Handlers that format `request` (AdminEmailHandler) would print the path and the user.
        record.request = None
        record.one_line = True  # the logger and then the handler both see the record: rewrite once
        return True
