"""Memory bounds on evidence images: a small file of huge dimensions is refused before any pixel is decoded."""

from __future__ import annotations

import io
import struct
import threading
import zlib
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from PIL import Image

from grievances.evidence import MAX_PIXELS, EvidenceRejected, check_upload
from grievances.models import Evidence
from tests.base import Personas, login_as
from tests.grievances.factories import make_case
from tests.grievances.test_evidence import raw_upload, stored_files
from union.limits import heavy_work


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def blank_png(width: int, height: int) -> bytes:
    """A valid RGB PNG of black pixels, compressed row by row so the test never holds the pixels."""
    compressor, row, parts = zlib.compressobj(9), b"\x00" * (1 + 3 * width), []
    for _ in range(height):
        parts.append(compressor.compress(row))
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", b"".join(parts)) + _chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def bomb() -> bytes:
    # The reproduction from the issue: 6300 x 6300 (39.7 megapixels) in about 120 KB.
    content = blank_png(6300, 6300)
    assert len(content) < 200_000
    return content


def pillow_images_created() -> int:
    """Images Pillow's core has allocated pixel storage for so far in this process (not a mock: its own counter)."""
    return Image.core.get_stats()["new_count"]


class TestImageBounds:
    def test_a_huge_image_in_a_small_file_is_refused_before_decoding(self, bomb: bytes) -> None:
        before = pillow_images_created()
        with pytest.raises(EvidenceRejected) as refused:
            check_upload("screen.png", bomb)
        assert "at most 20 megapixels" in str(refused.value)
        assert pillow_images_created() == before, "no pixel storage may be allocated for a refused image"

    def test_the_upload_page_says_why_and_keeps_nothing(self, personas: Personas, bomb: bytes, settings: Any,
                                                        tmp_path: Path) -> None:
        settings.MEDIA_ROOT = tmp_path / "media"
        case = make_case(personas)
        response = raw_upload(login_as(Client(), personas.member), case, "screen.png", bomb)
        assert response.status_code == 400
        assert "The image is too large: at most 20 megapixels" in response.content.decode()
        assert not Evidence.objects.exists() and stored_files(settings.MEDIA_ROOT) == []

    def test_an_image_at_the_limit_is_still_accepted(self) -> None:
        width = 5000
        content = blank_png(width, MAX_PIXELS // width)
        clean = check_upload("photo.png", content)
        assert Image.open(io.BytesIO(clean.content)).size == (width, MAX_PIXELS // width)

    def test_a_busy_server_answers_503_and_keeps_nothing(self, personas: Personas, settings: Any,
                                                          tmp_path: Path) -> None:
        settings.MEDIA_ROOT = tmp_path / "media"
        settings.TESSERA_HEAVY_WORK_SLOTS, settings.TESSERA_HEAVY_WORK_WAIT = 1, 0.05
        case = make_case(personas)
        small = blank_png(8, 8)
        holding, release = threading.Event(), threading.Event()

        def hold_the_only_slot() -> None:
            with heavy_work():
                holding.set()
                release.wait(10)

        worker = threading.Thread(target=hold_the_only_slot)
        worker.start()
        try:
            assert holding.wait(5)
            response = raw_upload(login_as(Client(), personas.member), case, "screen.png", small)
        finally:
            release.set()
            worker.join()
        assert response.status_code == 503 and response["Retry-After"]
        assert "busy" in response.content.decode()
        assert not Evidence.objects.exists() and stored_files(settings.MEDIA_ROOT) == []
        assert raw_upload(login_as(Client(), personas.member), case, "screen.png", small).status_code == 302

    def test_a_png_loses_its_text_exif_and_colour_profile(self) -> None:
        from PIL import ImageCms, PngImagePlugin

        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", "taken at the Nairobi office by wanjiru")
        exif = Image.Exif()
        exif[0x010F] = "PhoneMaker"
        icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
        out = io.BytesIO()
        Image.new("RGBA", (16, 16), (1, 2, 3, 4)).save(out, "PNG", pnginfo=info, exif=exif, icc_profile=icc)
        original = out.getvalue()
        assert b"wanjiru" in original and b"PhoneMaker" in original and b"iCCP" in original
        clean = check_upload("screen.png", original).content
        assert b"wanjiru" not in clean and b"PhoneMaker" not in clean and b"eXIf" not in clean and b"iCCP" not in clean
        image = Image.open(io.BytesIO(clean))
        assert image.mode == "RGBA" and image.getpixel((3, 3)) == (1, 2, 3, 4) and not image.info.get("icc_profile")
