"""PDF documents: a Django template rendered to HTML, then to PDF by WeasyPrint.

WeasyPrint loads every stylesheet, image, font and attachment a document names through a URL
fetcher. Documents carry text that members typed (a grievance narrative, a demand), and one
forgotten `|safe` would let that text add `<img src="file:///...">` or `@import url(http://...)`.
So the fetcher here never touches the network or the file system beyond our own static files: a
document may name `/static/...` and nothing else, and everything else fails inside the fetcher,
which WeasyPrint logs and skips, so the document still renders, without the resource.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.http import content_disposition_header
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from union.limits import heavy_work

# Relative URLs in a document resolve against this base, so "/static/css/pdf.css" becomes
# "https://pdf.tessera.invalid/static/css/pdf.css". The fetcher maps such URLs to files and never
# opens a connection; the reserved ".invalid" domain (RFC 2606) could not resolve even if a URL
# escaped to some other client.
BASE_URL = "https://pdf.tessera.invalid/"

# A fixed path, not settings.STATIC_URL: STATIC_URL may name a CDN or hashed file names, while
# documents address the files as the static finders know them, as in `findstatic`.
STATIC_PREFIX = "/static/"

REFUSED = "A PDF may only load the project's static files: {url!r} is refused."
NOT_FOUND = "No static file at {url!r}."


class ResourceRefused(ValueError):
    """A document asked for something that is not one of our static files.

    A plain Exception on purpose: WeasyPrint skips a resource whose fetch raises an Exception,
    and stops the whole rendering only for its own FatalURLFetchingError.
    """


def static_file_for(url: str) -> Path:
    """The static file that `url` (absolute, resolved against BASE_URL) names, or ResourceRefused."""
    parts = urlsplit(url)
    base = urlsplit(BASE_URL)
    # Scheme and host must match exactly: this refuses file:, data:, http: and https: to any other
    # host, and tricks such as "https://pdf.tessera.invalid@127.0.0.1/".
    if (parts.scheme, parts.netloc) != (base.scheme, base.netloc) or not parts.path.startswith(STATIC_PREFIX):
        raise ResourceRefused(REFUSED.format(url=url))
    # Decode before checking, so "%2e%2e" and "%2f" are judged as the ".." and "/" they become.
    # WeasyPrint has already removed literal dot segments while joining, but a fetcher must not
    # rely on its caller.
    relative = unquote(parts.path.removeprefix(STATIC_PREFIX))
    segments = relative.split("/")
    if any(segment in ("", ".", "..") for segment in segments) or "\\" in relative or "\x00" in relative:
        raise ResourceRefused(REFUSED.format(url=url))
    # The finders read STATICFILES_DIRS and the installed apps when asked, so this works without
    # collectstatic, and their safe_join refuses anything outside a static root as a second line.
    found = finders.find(relative)
    if not found or not Path(found).is_file():
        raise ResourceRefused(NOT_FOUND.format(url=url))
    return Path(found)


class StaticFilesFetcher(URLFetcher):
    """A WeasyPrint URL fetcher that serves our static files and refuses every other URL."""

    def __init__(self) -> None:
        # No protocol allowed and no redirects: the inherited urllib machinery is never used, as
        # fetch() below replaces it, and these settings keep it inert should that ever change.
        super().__init__(allowed_protocols=(), allow_redirects=False, fail_on_errors=False)

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> URLFetcherResponse:
        path = static_file_for(url)
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        # The response keeps the https URL rather than a file: one, so URLs inside a stylesheet
        # resolve against BASE_URL and come back through this fetcher.
        return URLFetcherResponse(url, body=path.read_bytes(), headers={"Content-Type": content_type})


def html_to_pdf(template_name: str, context: dict[str, Any], *, request: HttpRequest | None = None,
                **write_options: Any) -> bytes:
    """Render `template_name` (usually extending pdf/base.html) to PDF bytes.

    The document is in the active language: wrap the call in `translation.override()` to print a
    letter in the language of its recipient. `write_options` go to WeasyPrint's `write_pdf`
    (for example `pdf_variant="pdf/ua-1"` for a document tagged for screen readers).
    """
    html = render_to_string(template_name, context, request=request)
    # Layout takes tens of megabytes and a core: bounded with uploads and password hashing.
    with heavy_work():
        document = HTML(string=html, base_url=BASE_URL, url_fetcher=StaticFilesFetcher())
        return document.write_pdf(**write_options)


def pdf_response(pdf: bytes, *, filename: str) -> HttpResponse:
    """A download of `pdf`, freshly rendered or read back from a stored document."""
    response = HttpResponse(pdf, content_type="application/pdf")
    # content_disposition_header quotes the name and adds filename*= for accents ("Réclamation").
    # Never None with as_attachment=True; django-stubs has no overload saying so.
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)  # type: ignore[assignment]
    # Set here too, not only by SecurityMiddleware, so the download stays a PDF whatever the settings.
    response["X-Content-Type-Options"] = "nosniff"
    return response
