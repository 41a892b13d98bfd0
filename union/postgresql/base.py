"""Django's PostgreSQL backend, with one change: the pool's `check` may be given in its options.

Django builds the psycopg_pool pool itself and passes `check` from CONN_HEALTH_CHECKS (the round
trip on every borrow, or nothing); a `check` among the pool's OPTIONS then fails as a duplicate
argument. Tessera gives its own (union/db.py: a round trip only for a connection that sat idle),
so this builds the pool as Django 5.2 does, with that check. Used as ENGINE only with the pool.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self) -> Any:
        options = self.settings_dict["OPTIONS"].get("pool")
        pools: dict[str, Any] = self._connection_pools  # type: ignore[attr-defined]  # Django's, not in the stubs
        if self.alias == NO_DB_ALIAS or not isinstance(options, dict) or "check" not in options or self.alias in pools:
            return super().pool  # type: ignore[misc]
        if self.settings_dict.get("CONN_MAX_AGE", 0) != 0:
            raise ImproperlyConfigured("Pooling doesn't support persistent connections.")
        from psycopg_pool import ConnectionPool

        options = dict(options)
        check = options.pop("check")
        # As Django: autocommit on the raw connection (Django sets its own mode later), opened lazily.
        kwargs = {**self.get_connection_params(), "autocommit": True}
        configure = self._configure_connection  # type: ignore[attr-defined]
        pool = ConnectionPool(kwargs=kwargs, open=False, configure=configure, check=check, **options)
        pools.setdefault(self.alias, pool)  # the first thread to get here wins, as in Django
        return pools[self.alias]
