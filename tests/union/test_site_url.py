"""Links in emails point where `make run` serves: the port it was given, not always 8000."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRINT_SITE_URL = "from django.conf import settings; print(settings.TESSERA_SITE_URL)"


def _site_url(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_SITE") and k != "PORT"}
    clean.update(env)
    done = subprocess.run([sys.executable, "manage.py", "shell", "-c", PRINT_SITE_URL], cwd=ROOT, env=clean,
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip().splitlines()[-1]


def test_the_development_site_url_follows_the_port() -> None:
    assert _site_url(PORT="8123") == "http://127.0.0.1:8123"
    assert _site_url() == "http://127.0.0.1:8000"
    assert _site_url(PORT="8123", TESSERA_SITE_URL="https://union.example/") == "https://union.example"


def test_make_run_passes_its_host_and_port_to_the_server() -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    clean = {k: v for k, v in os.environ.items() if k != "TESSERA_SITE_URL"}
    done = subprocess.run(["make", "-n", "run", "PORT=8123", "HOST=127.0.0.1"], cwd=ROOT, env=clean,
                          capture_output=True, text=True, timeout=60, check=True)
    daphne = done.stdout[done.stdout.index("PORT=8123 TESSERA_SITE_URL="):]
    assert '"${TESSERA_SITE_URL:-http://127.0.0.1:8123}"' in daphne and "-p 8123" in daphne
