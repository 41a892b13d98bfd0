"""A small PNG of a kept PDF's first page, for the campaign page (kept by the document layer too).

WeasyPrint 53 and later cannot write PNG, and no PDF rasteriser is a Python dependency here, so
poppler's `pdftoppm` draws it (poppler-utils, as the PDF tests use; deploy/README.md lists it).
Without it a document simply has no preview: the page shows none and says nothing is missing.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from django.urls import reverse

from bargaining.models_table import DocumentPreview
from union.documents import document_store
from union.limits import heavy_work
from union.models import Document

logger = logging.getLogger(__name__)

# Pixels across: shown at 160 CSS pixels, sharp on phones with two device pixels per CSS pixel.
WIDTH = 320
TIMEOUT_SECONDS = 30


def first_page_png(pdf: bytes, *, width: int = WIDTH) -> bytes | None:
    """The first page as a PNG `width` pixels wide, or None when pdftoppm is not installed."""
    binary = shutil.which("pdftoppm")
    if binary is None:
        logger.warning("pdftoppm (poppler-utils) is not installed: documents get no preview image.")
        return None
    with tempfile.TemporaryDirectory(prefix="tessera-preview-") as tmp, heavy_work():
        source, target = Path(tmp, "in.pdf"), Path(tmp, "page")
        source.write_bytes(pdf)
        subprocess.run(  # noqa: S603 - a fixed binary and arguments, our own file names
            [binary, "-f", "1", "-l", "1", "-singlefile", "-png", "-scale-to-x", str(width), "-scale-to-y", "-1",
             str(source), str(target)],
            check=True, capture_output=True, timeout=TIMEOUT_SECONDS)
        return target.with_suffix(".png").read_bytes()


def preview_store(*, document: Document, pdf: bytes, actor_id: int | None) -> DocumentPreview | None:
    """Draw and keep the preview of `document` (whose bytes are `pdf`); None without pdftoppm."""
    png = first_page_png(pdf)
    if png is None:
        return None
    image = document_store(kind=f"{document.kind}_preview", owner_code=document.owner_code, content=png,
                           actor_id=actor_id, content_type="image/png")
    return DocumentPreview.objects.create(document=document, image=image)


def preview_of(document: Document) -> Document | None:
    found = DocumentPreview.objects.filter(document=document).select_related("image").first()
    return found.image if found is not None else None


# Where a kept document of each kind is fetched, and its preview: the one table of these URL names,
# for the pages (bargaining/views_table.py) and for the task's "done" event (bargaining/tasks.py).
ROUTES = {"demands": ("campaign_document_download", "campaign_document_preview"),
          "agreement": ("agreement_download", "agreement_preview")}


def document_links(campaign_code: Any, kind: str, document: Document) -> dict[str, str]:
    """The paths of a kept version and of its preview ("" when it has none)."""
    download, preview = ROUTES[kind]
    args = {"code": campaign_code, "version": document.version}
    return {"download": reverse(f"bargaining:{download}", kwargs=args),
            "preview": reverse(f"bargaining:{preview}", kwargs=args) if preview_of(document) is not None else ""}
