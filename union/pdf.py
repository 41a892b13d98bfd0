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
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.html import escape
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
# Resources a caller makes for one document (a watermark drawn from a translated word): served from
# memory under this path for that rendering only, never from the file system.
GENERATED_PREFIX = "/generated/"

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
    """A WeasyPrint URL fetcher that serves our static files and refuses every other URL.

    `generated` maps a name to (bytes, content type): what the caller made for this document,
    served at /generated/<name> and nowhere else (exact names; nothing else under that path).
    """

    def __init__(self, generated: Mapping[str, tuple[bytes, str]] | None = None) -> None:
        # No protocol allowed and no redirects: the inherited urllib machinery is never used, as
        # fetch() below replaces it, and these settings keep it inert should that ever change.
        super().__init__(allowed_protocols=(), allow_redirects=False, fail_on_errors=False)
        self.generated = dict(generated or {})

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> URLFetcherResponse:
        parts, base = urlsplit(url), urlsplit(BASE_URL)
        if (parts.scheme, parts.netloc) == (base.scheme, base.netloc) and parts.path.startswith(GENERATED_PREFIX):
            name = parts.path.removeprefix(GENERATED_PREFIX)
            if parts.query or parts.fragment or name not in self.generated:
                raise ResourceRefused(REFUSED.format(url=url))
            body, content_type = self.generated[name]
            return URLFetcherResponse(url, body=body, headers={"Content-Type": content_type})
        path = static_file_for(url)
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        # The response keeps the https URL rather than a file: one, so URLs inside a stylesheet
        # resolve against BASE_URL and come back through this fetcher.
        return URLFetcherResponse(url, body=path.read_bytes(), headers={"Content-Type": content_type})


def html_to_pdf(template_name: str, context: dict[str, Any], *, request: HttpRequest | None = None,
                generated: Mapping[str, tuple[bytes, str]] | None = None,
                progress: Callable[[str], None] | None = None, **write_options: Any) -> bytes:
    """Render `template_name` (usually extending pdf/base.html) to PDF bytes.

    The document is in the active language: wrap the call in `translation.override()` to print a
    letter in the language of its recipient. `write_options` go to WeasyPrint's `write_pdf`
    (for example `pdf_variant="pdf/ua-1"` for a document tagged for screen readers).
    `generated` is served at /generated/<name> for this rendering (StaticFilesFetcher), and
    `progress`, if given, is called with "layout" before the pages are laid out and "write" before
    the PDF is written (the two long phases), for a page that shows the progress of a render.
    """
    html = render_to_string(template_name, context, request=request)
    # Layout takes tens of megabytes and a core: bounded with uploads and password hashing.
    with heavy_work():
        source = HTML(string=html, base_url=BASE_URL, url_fetcher=StaticFilesFetcher(generated))
        if progress is not None:
            progress("layout")
        # What HTML.write_pdf does, in two steps: both take the same options.
        document = source.render(**write_options)
        if progress is not None:
            progress("write")
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


WATERMARK_NAME = "watermark.svg"


def watermark_svg(word: str) -> dict[str, tuple[bytes, str]]:
    """A diagonal watermark of `word` (translated by the caller), to pass as `generated=`.

    Drawn as the page's background image (static/css/pdf-watermark.css), because WeasyPrint marks
    backgrounds as /Artifact in a tagged PDF: a screen reader skips it, where text in the page
    (even `position: fixed` or `aria-hidden`) is read out on every page, and text in an @page
    margin box is left as untagged marked content (neither in the structure tree nor an artifact).
    """
    size = max(40, min(110, 900 // max(len(word), 1)))  # long words ("BROUILLON") in smaller type
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="600" height="600" viewBox="0 0 600 600">'
        '<text x="300" y="300" text-anchor="middle" dominant-baseline="middle" transform="rotate(-35 300 300)"'
        f' font-family="Tessera Sans" font-weight="bold" font-size="{size}" fill="#000" fill-opacity="0.08">'
        f"{escape(word)}</text></svg>"
    )
    return {WATERMARK_NAME: (svg.encode("utf-8"), "image/svg+xml")}
