"""The PDF engine: real PDFs, shipped fonts, accents kept, and no fetch beyond our static files."""

from __future__ import annotations

import copy
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from weasyprint import HTML

from tests.services import need
from union import pdf

POPPLER = "poppler-utils (pdftotext, pdffonts, pdfdetach) is not installed: apt-get install poppler-utils"

SAMPLE = {
    "union_name": "Syndicat des modératrices et modérateurs — Section de Nairobi",
    "date": "12 mars 2025",
    "recipient": ["Señora Lucía Peña", "Directora de Recursos Humanos"],
    "title": "Réclamation : heures supplémentaires non payées",
    "paragraphs": [
        "Cette main-d'œuvre qualifiée mérite mieux.",
        "Mahitaji ya wafanyakazi: malipo ya saa za ziada.",
        "Señora, le pedimos una reunión antes del viernes.",
    ],
    "quote": "Je travaille douze heures d'affilée.",
    "points": ["Paiement des heures dues", "Soutien psychologique"],
    "signatory": "Amina Wanjiru",
    "role": "Déléguée syndicale",
}

# The static files the sample letter uses: its stylesheet, the two fonts and the union's mark.
OUR_FILES = {
    "static/css/pdf.css",
    "static/fonts/DejaVuSans.ttf",
    "static/fonts/DejaVuSans-Bold.ttf",
    "static/img/favicon.svg",
}

# Every way a template could ask for something that is not one of our static files. The server
# URL points at a local HTTP server that counts connections; canary files hold text that must
# never reach the PDF. `with_internet` adds example.com, which only our fetcher may see: the
# control render below uses WeasyPrint's own fetcher and must not go to the internet.
HOSTILE = """{% extends "pdf/base.html" %}
{% block head %}
<link rel="stylesheet" href="{{ server }}/link.css">
<link rel="stylesheet" href="file://{{ canary_css }}">
<link rel="attachment" href="file://{{ canary_txt }}">
<link rel="attachment" href="file:///etc/hostname">
<style>
@import url({{ server }}/import.css);
{% if with_internet %}@import url(https://example.com/x.css);{% endif %}
@font-face { font-family: Spy; src: url({{ server }}/font.ttf); }
h1 { font-family: Spy; background: url(file:///etc/passwd); }
</style>
{% endblock %}
{% block body %}
<h1>Hostile</h1>
<img src="file:///etc/passwd" alt="">
<img src="{{ server }}/img.png" alt="">
<img src="/static/../union/settings.py" alt="">
<img src="/static/%2e%2e/manage.py" alt="">
<a rel="attachment" href="/static/%2e%2e/union/settings.py">settings</a>
<a rel="attachment" href="{{ server }}/attachment.txt">attachment</a>
<svg width="20" height="20"><image href="{{ server }}/svg.png" width="20" height="20"/></svg>
<p>Visible paragraph</p>
{% endblock %}
"""

# The same attack carried by text a member typed.
USER_TEXT = (
    '<img src="file:///etc/passwd"><link rel="stylesheet" href="{server}/user.css">'
    "<style>@import url(https://example.com/x.css); @import url({server}/user-import.css);</style>"
    '<img src="/static/../union/settings.py"><img src="/static/%2e%2e/manage.py">'
    '<link rel="attachment" href="file:///etc/hostname">'
)


def run(*command: str) -> str:
    need(all(shutil.which(name) for name in ("pdftotext", "pdffonts", "pdfdetach")), POPPLER)
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=60).stdout


def text_of(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "text.pdf"
    path.write_bytes(data)
    return run("pdftotext", "-enc", "UTF-8", str(path), "-")


def fonts_of(data: bytes, tmp_path: Path) -> list[tuple[str, str]]:
    """(name without the subset tag, embedded yes/no) for every font in the PDF."""
    path = tmp_path / "fonts.pdf"
    path.write_bytes(data)
    rows = run("pdffonts", str(path)).splitlines()[2:]
    # Columns: name, type (one or two words), encoding, emb, sub, uni, object id, generation.
    return [(cells[0].split("+", 1)[-1], cells[-5]) for cells in (row.split() for row in rows)]


def attachments_of(data: bytes, tmp_path: Path) -> list[str]:
    """The contents of every file embedded in the PDF."""
    path = tmp_path / "attachments.pdf"
    path.write_bytes(data)
    out = tmp_path / "attachments"
    out.mkdir()
    run("pdfdetach", "-saveall", "-o", str(out), str(path))
    return [item.read_text(errors="replace") for item in out.iterdir()]


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'body::after { content: "HTTP-CANARY" }'
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # Keep the test output quiet.


class CountingServer(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 that counts connections, so even a TLS attempt shows."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connections = 0

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.connections += 1
        return True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def server() -> Iterator[CountingServer]:
    httpd = CountingServer()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture
def fetches(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """Every URL our fetcher is asked for, with whether it was served."""
    calls: list[tuple[str, bool]] = []
    original = pdf.StaticFilesFetcher.fetch

    def spy(self: pdf.StaticFilesFetcher, url: str, headers: dict[str, str] | None = None) -> Any:
        try:
            response = original(self, url, headers)
        except Exception:
            calls.append((url, False))
            raise
        calls.append((url, True))
        return response

    monkeypatch.setattr(pdf.StaticFilesFetcher, "fetch", spy)
    return calls


@pytest.fixture
def hostile(settings: Any, tmp_path: Path, server: CountingServer) -> dict[str, Any]:
    """Adds tests/hostile.html to the template loaders; returns its context."""
    engine = copy.deepcopy(settings.TEMPLATES[0])
    engine["APP_DIRS"] = False
    engine["OPTIONS"]["loaders"] = [
        ("django.template.loaders.locmem.Loader", {"tests/hostile.html": HOSTILE}),
        "django.template.loaders.filesystem.Loader",
        "django.template.loaders.app_directories.Loader",
    ]
    settings.TEMPLATES = [engine]
    canary_css = tmp_path / "canary.css"
    canary_css.write_text('body::before { content: "FILE-CANARY" }')
    canary_txt = tmp_path / "canary.txt"
    canary_txt.write_text("ATTACHMENT-CANARY")
    return {"server": server.url, "canary_css": canary_css, "canary_txt": canary_txt, "with_internet": True}


def secrets_on_disk() -> list[str]:
    """Text from local files a hostile document aims at, each long enough not to match by chance."""
    texts = ["TESSERA_BLIND_INDEX_KEY", "DJANGO_SETTINGS_MODULE"]  # from settings.py and manage.py
    hostname = Path("/etc/hostname")
    if hostname.exists() and len(hostname.read_text().strip()) >= 6:
        texts.append(hostname.read_text().strip())
    return texts


def assert_nothing_leaked(data: bytes, tmp_path: Path, server: CountingServer, fetches: list[tuple[str, bool]]) -> None:
    assert server.connections == 0
    assert {url.removeprefix(pdf.BASE_URL) for url, ok in fetches if ok} <= OUR_FILES
    text = text_of(data, tmp_path)
    for secret in [*secrets_on_disk(), "FILE-CANARY", "HTTP-CANARY"]:
        assert secret not in text
    assert attachments_of(data, tmp_path) == []


class TestFetcher:
    def test_it_serves_a_static_file(self) -> None:
        response = pdf.StaticFilesFetcher().fetch(pdf.BASE_URL + "static/css/pdf.css")
        assert response.read() == (Path(django_settings.BASE_DIR) / "static/css/pdf.css").read_bytes()
        assert response.content_type == "text/css"
        assert response.url == pdf.BASE_URL + "static/css/pdf.css"

    @pytest.mark.parametrize(
        "url",
        [
            "file:///etc/passwd",
            "FILE:///etc/passwd",
            "http://127.0.0.1:1/x.css",
            "https://127.0.0.1:1/x.css",
            "https://example.com/x.css",
            "https://example.com/static/css/pdf.css",
            "http://pdf.tessera.invalid/static/css/pdf.css",
            "https://pdf.tessera.invalid@127.0.0.1/static/css/pdf.css",
            "https://pdf.tessera.invalid:8443/static/css/pdf.css",
            "data:text/css,body{color:red}",
            "/etc/passwd",
            "/static/css/pdf.css",  # a relative URL: WeasyPrint resolves them before asking
            pdf.BASE_URL + "union/settings.py",
            pdf.BASE_URL + "static/../union/settings.py",
            pdf.BASE_URL + "static/%2e%2e/manage.py",
            pdf.BASE_URL + "static/%2E%2E/%2E%2E/etc/passwd",
            pdf.BASE_URL + "static/..%2fmanage.py",
            pdf.BASE_URL + "static/%2fetc/passwd",
            pdf.BASE_URL + "static//etc/passwd",
            pdf.BASE_URL + "static/css/%5c..%5c..%5cmanage.py",
            pdf.BASE_URL + "static/./css/pdf.css",
            pdf.BASE_URL + "static/css",  # a directory
            pdf.BASE_URL + "static/css/missing.css",
        ],
    )
    def test_it_refuses_anything_else(self, url: str) -> None:
        with pytest.raises(pdf.ResourceRefused):
            pdf.StaticFilesFetcher().fetch(url)

    def test_it_reads_the_static_dirs_at_call_time(self, settings: Any, tmp_path: Path) -> None:
        (tmp_path / "late.css").write_text("p { color: red }")
        settings.STATICFILES_DIRS = [tmp_path]
        assert pdf.StaticFilesFetcher().fetch(pdf.BASE_URL + "static/late.css").read() == b"p { color: red }"
        with pytest.raises(pdf.ResourceRefused):
            pdf.StaticFilesFetcher().fetch(pdf.BASE_URL + "static/css/pdf.css")


class TestRendering:
    def test_it_renders_a_pdf(self) -> None:
        data = pdf.html_to_pdf("pdf/sample.html", SAMPLE)
        assert data.startswith(b"%PDF-")
        assert data.rstrip().endswith(b"%%EOF")

    def test_it_keeps_french_swahili_and_spanish_accents(self, tmp_path: Path) -> None:
        text = text_of(pdf.html_to_pdf("pdf/sample.html", SAMPLE), tmp_path)
        for words in ("Réclamation", "Mahitaji ya wafanyakazi", "Señora", "œuvre", "Déléguée", "Lucía Peña"):
            assert words in text

    def test_it_embeds_the_shipped_fonts(self, tmp_path: Path) -> None:
        # WeasyPrint names an @font-face font after its CSS family, so "Tessera-Sans" proves the
        # font came from static/fonts; a system DejaVu Sans would show as "DejaVu-Sans".
        fonts = fonts_of(pdf.html_to_pdf("pdf/sample.html", SAMPLE), tmp_path)
        assert sorted(fonts) == [("Tessera-Sans", "yes"), ("Tessera-Sans-Bold", "yes")]

    def test_it_fetches_our_static_files(self, fetches: list[tuple[str, bool]]) -> None:
        pdf.html_to_pdf("pdf/sample.html", SAMPLE)
        assert {url.removeprefix(pdf.BASE_URL) for url, ok in fetches if ok} == OUR_FILES
        assert all(ok for _, ok in fetches)

    def test_it_answers_a_download(self) -> None:
        response = pdf.pdf_response(b"%PDF-1.7 test", filename="Réclamation 12.pdf")
        assert response.content == b"%PDF-1.7 test"
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"] == ("attachment; filename*=utf-8''R%C3%A9clamation%2012.pdf")
        assert response["X-Content-Type-Options"] == "nosniff"


class TestHostileDocuments:
    def test_the_hostile_template_would_leak_without_our_fetcher(
        self, hostile: dict[str, Any], server: CountingServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # The control for the test below: with WeasyPrint's own fetcher the same template calls the
        # server and copies local files into the PDF, so "nothing leaked" there means something.
        monkeypatch.setenv("no_proxy", "*")
        monkeypatch.setenv("NO_PROXY", "*")
        html = render_to_string("tests/hostile.html", {**hostile, "with_internet": False})
        data = HTML(string=html).write_pdf()
        assert server.connections > 0
        text = text_of(data, tmp_path)
        assert "FILE-CANARY" in text and "HTTP-CANARY" in text
        assert "ATTACHMENT-CANARY" in attachments_of(data, tmp_path)

    def test_it_refuses_every_resource_of_a_hostile_template(
        self, hostile: dict[str, Any], server: CountingServer, fetches: list[tuple[str, bool]], tmp_path: Path
    ) -> None:
        data = pdf.html_to_pdf("tests/hostile.html", hostile)
        assert "Visible paragraph" in text_of(data, tmp_path)  # refusals skip resources, not the document
        refused = [url for url, ok in fetches if not ok]
        for asked in (
            "file:///etc/passwd",
            f"{server.url}/link.css",
            f"{server.url}/import.css",
            "https://example.com/x.css",
            f"{server.url}/font.ttf",
            f"{server.url}/img.png",
            "file:///etc/hostname",
            f"{server.url}/attachment.txt",
            f"{server.url}/svg.png",
            pdf.BASE_URL + "union/settings.py",
            pdf.BASE_URL + "static/%2e%2e/manage.py",
            pdf.BASE_URL + "static/%2e%2e/union/settings.py",
        ):
            assert asked in refused
        assert_nothing_leaked(data, tmp_path, server, fetches)

    def test_it_prints_escaped_user_text_as_text(
        self, server: CountingServer, fetches: list[tuple[str, bool]], tmp_path: Path
    ) -> None:
        attack = USER_TEXT.format(server=server.url)
        data = pdf.html_to_pdf("pdf/sample.html", {**SAMPLE, "quote": attack})
        # Compared without whitespace, as the quote wraps wherever the line ends.
        assert "".join(attack.split()) in "".join(text_of(data, tmp_path).split())
        assert not [url for url, ok in fetches if not ok]  # never even asked
        assert_nothing_leaked(data, tmp_path, server, fetches)

    def test_it_refuses_resources_in_user_text_marked_safe(
        self, server: CountingServer, fetches: list[tuple[str, bool]], tmp_path: Path
    ) -> None:
        # mark_safe stands for an HTML-injection bug in some future template.
        attack = mark_safe(USER_TEXT.format(server=server.url))  # noqa: S308
        data = pdf.html_to_pdf("pdf/sample.html", {**SAMPLE, "quote": attack})
        refused = [url for url, ok in fetches if not ok]
        for asked in (
            "file:///etc/passwd",
            f"{server.url}/user.css",
            f"{server.url}/user-import.css",
            "https://example.com/x.css",
            pdf.BASE_URL + "union/settings.py",
            pdf.BASE_URL + "static/%2e%2e/manage.py",
            "file:///etc/hostname",
        ):
            assert asked in refused
        assert_nothing_leaked(data, tmp_path, server, fetches)
