"""HTTP for the Python client: the session cookie and CSRF over urllib, as a browser presents them."""

from __future__ import annotations

import http.cookiejar
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

API = "/api/messaging"


class ClientError(Exception):
    """A refusal from the server or a failed check, shown to the person as one line."""


class Session:
    """Cookies and CSRF over urllib, as a browser would present them to Django."""

    def __init__(self, server: str, cookies: list[dict[str, Any]] | None = None) -> None:
        self.server = server.rstrip("/")
        self.jar = http.cookiejar.CookieJar()
        for c in cookies or []:
            self.jar.set_cookie(http.cookiejar.Cookie(
                0, c["name"], c["value"], None, False, c["domain"], True, False, c["path"], True, c["secure"],
                None, False, None, None, {}))
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def cookies(self) -> list[dict[str, Any]]:
        return [{"name": c.name, "value": c.value, "domain": c.domain, "path": c.path, "secure": c.secure}
                for c in self.jar]

    def _csrf(self) -> str:
        return next((c.value or "" for c in self.jar if "csrftoken" in c.name), "")

    def request(self, method: str, path: str, body: Any = None, *, form: dict[str, str] | None = None) -> Any:
        headers = {"X-CSRFToken": self._csrf(), "Referer": self.server + "/", "Origin": self.server}
        data = None
        if form is not None:
            data = urllib.parse.urlencode({**form, "csrfmiddlewaretoken": self._csrf()}).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.server + path, data=data, method=method, headers=headers)  # noqa: S310
        try:
            with self.opener.open(req, timeout=30) as response:
                raw = response.read()
                kind = response.headers.get("Content-Type", "")
                return json.loads(raw) if "json" in kind else raw.decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace")[:500]
            raise ClientError(f"{method} {path}: HTTP {error.code} {detail}") from None

    def api(self, method: str, path: str, body: Any = None) -> Any:
        return self.request(method, API + path, body)
