"""Password hashing: Argon2id at a cost a small server survives during a login storm.

Django's default Argon2 parameters (m=100 MiB, t=2, p=8) cost 100 MiB per hash: sixteen logins at
once took 1.5 GB. OWASP's password storage cheat sheet lists equivalent Argon2id settings; we take
m=46 MiB, t=1, p=1 (README "Password hashing" has the figures measured on a 2-core machine). Every
hash and check also holds a slot of `union.limits.heavy_work`, so a storm queues briefly (or is
answered 503) instead of multiplying the memory.

Why not the lighter m=19 MiB, t=2: glibc serves a 19 MiB block from the calling thread's heap arena
(it is below malloc's 32 MiB dynamic mmap ceiling) and keeps it after free, so every thread that
ever hashed keeps 19 MiB: 16 logins left 304 MB resident even with two slots. A 46 MiB block is
always mmap'ed and returned at once: the same storm peaks at 85 MB and goes back down.

Hashes made with other parameters still verify (argon2 reads the parameters from the hash) and
`must_update` makes Django re-hash them with these at the next successful login.
"""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher

from union.limits import heavy_work


class TesseraArgon2PasswordHasher(Argon2PasswordHasher):
    # Same algorithm name as Django's: existing "argon2$..." hashes are ours to verify and upgrade.
    algorithm = "argon2"
    memory_cost = 46 * 1024  # KiB
    time_cost = 1
    parallelism = 1

    def encode(self, password: str, salt: str) -> str:
        with heavy_work():
            return super().encode(password, salt)

    def verify(self, password: str, encoded: str) -> bool:
        with heavy_work():
            return super().verify(password, encoded)
