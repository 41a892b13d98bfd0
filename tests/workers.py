"""Loaded first (`-p tests.workers` in pyproject.toml), before Django reads its settings.

The suite runs in parallel with pytest-xdist. Each worker already gets its own test database
(pytest-django adds the worker's id to its name); here each also gets its own Redis key prefix,
so that the channel groups of one worker's tests ("user.5", "room.1": the same numbers in every
worker's database) never reach another worker's sockets.
"""

from __future__ import annotations

import os

_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _WORKER:
    os.environ["TESSERA_REDIS_PREFIX"] = f"{os.environ.get('TESSERA_REDIS_PREFIX', 'tessera')}-{_WORKER}"
