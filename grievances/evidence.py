"""Checking an uploaded file: type from the bytes, size, name, and image metadata removed."""

from __future__ import annotations

import csv
import io
import unicodedata
import warnings
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _
from PIL import Image, UnidentifiedImageError

from union.limits import heavy_work

MAX_BYTES = 10 * 1024 * 1024
# Decoded, an image takes 3 or 4 bytes a pixel whatever its file size: an 88 KB PNG of 6300 x 6300
# plain pixels took Daphne from 165 to 610 MB. 20 megapixels (80 MB a copy at most, two copies at
# the peak of re-encoding) still admits a 12 MP phone photo, a 20 MP camera and long screenshots.
MAX_PIXELS = 20_000_000
EXTENSIONS = {
    "application/pdf": {".pdf"},
    "image/png": {".png"},
    "image/jpeg": {".jpg", ".jpeg"},
    "text/plain": {".txt", ".text", ".log", ".csv"},
    "text/csv": {".csv", ".txt"},
}
ERR_SIZE = _("The file is larger than 10 MB.")
ERR_EMPTY = _("The file is empty.")
ERR_NAME = _("The file name is not acceptable: use letters, digits, spaces, dots, dashes or underscores.")
ERR_TYPE = _("Only PDF, PNG, JPEG, plain text and CSV files are accepted.")
ERR_LIES = _("The file's name does not match what it contains. Rename it or choose another file.")
ERR_IMAGE = _("The image could not be read. It may be damaged or too large.")
ERR_IMAGE_PIXELS = _("The image is too large: at most %(megapixels)s megapixels (for example 5000 × 4000 pixels). "
                     "Send a smaller photo or a screenshot.")


class EvidenceRejected(Exception):
    """The upload is refused; the message is for the person uploading."""


@dataclass
class CleanFile:
    name: str
    content_type: str
    content: bytes


def sniff(content: bytes) -> str | None:
    """The content type decided from the bytes alone."""
    if content.startswith(b"%PDF-"):
        return "application/pdf"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if b"\x00" in content:
        return None
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\r\n\f" for ch in text[:65536]):
        return None
    return "text/csv" if _looks_like_csv(text) else "text/plain"


def _looks_like_csv(text: str) -> bool:
    sample = text[:8192]
    lines = [line for line in sample.splitlines() if line.strip()]
    if len(lines) < 2:
        return False
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        return False
    widths = {len(row) for row in csv.reader(lines[:20], dialect)}
    return len(widths) == 1 and widths.pop() > 1


def clean_name(name: str) -> str:
    """The name as given, refused if it tries to name a path or hide its extension."""
    name = unicodedata.normalize("NFC", name or "").strip()
    if (
        not name or len(name) > 120 or name.startswith(".") or ".." in name
        or any(ch in name for ch in "/\\:\x00") or any(unicodedata.category(ch).startswith("C") for ch in name)
    ):
        raise EvidenceRejected(ERR_NAME)
    return name


def image_size(content: bytes) -> tuple[int, int]:
    """Width and height read from the file's header only; no pixel is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as image:
                return image.size
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, Image.DecompressionBombWarning,
            ValueError) as exc:
        raise EvidenceRejected(ERR_IMAGE) from exc


def check_image_size(content: bytes) -> None:
    """Refuse an image whose pixels would not fit in MAX_PIXELS, before anything is decoded."""
    width, height = image_size(content)
    if width * height > MAX_PIXELS:
        raise EvidenceRejected(ERR_IMAGE_PIXELS % {"megapixels": MAX_PIXELS // 1_000_000})


def strip_image_metadata(content: bytes, content_type: str) -> bytes:
    """Re-encode the pixels only: EXIF (with GPS location), XMP and text chunks are left behind.

    The size is checked from the header first; decoding then runs in a `heavy_work` slot, so a
    handful of uploads at once cannot multiply the memory (a request that finds no slot is told
    to try again). The decoded pixels are written out again from the same buffer: copying them into
    a fresh image, as this did before, doubled the peak (a 20 MP upload took 150 MB, now 75 MB).
    """
    check_image_size(content)
    try:
        with heavy_work(), warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as image:
                if image.width * image.height > MAX_PIXELS:  # the header said otherwise: never decode it
                    raise EvidenceRejected(ERR_IMAGE_PIXELS % {"megapixels": MAX_PIXELS // 1_000_000})
                fmt = "PNG" if content_type == "image/png" else "JPEG"
                mode = "RGBA" if fmt == "PNG" and "A" in image.getbands() else "RGB"
                image.load()
                pixels = image if image.mode == mode else image.convert(mode)
                if pixels is not image:
                    image.close()
                # Pillow writes metadata (EXIF with GPS, XMP, ICC, comments, text chunks) only from
                # `info` and from save()'s arguments: with `info` emptied and no such argument, only
                # the pixels are written. tests/grievances/test_evidence.py checks EXIF and GPS are gone.
                pixels.info = {}
                out = io.BytesIO()
                pixels.save(out, fmt, **({"quality": 90} if fmt == "JPEG" else {"optimize": True}))
                pixels.close()
                return out.getvalue()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, Image.DecompressionBombWarning,
            ValueError) as exc:
        raise EvidenceRejected(ERR_IMAGE) from exc


def check_upload(name: str, content: bytes) -> CleanFile:
    if len(content) > MAX_BYTES:
        raise EvidenceRejected(ERR_SIZE)
    if not content:
        raise EvidenceRejected(ERR_EMPTY)
    name = clean_name(name)
    content_type = sniff(content)
    if content_type is None:
        raise EvidenceRejected(ERR_TYPE)
    extension = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in EXTENSIONS[content_type]:
        raise EvidenceRejected(ERR_LIES if any(extension in exts for exts in EXTENSIONS.values()) else ERR_TYPE)
    if content_type.startswith("image/"):
        content = strip_image_metadata(content, content_type)
    return CleanFile(name=name, content_type=content_type, content=content)
