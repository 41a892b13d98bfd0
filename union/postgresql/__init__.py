"""Django's PostgreSQL backend with the connection pool's check chosen in settings (see base.py)."""
