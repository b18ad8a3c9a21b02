"""PostgreSQL for the benchmarks: a throw-away database, the server's CPU time, a table's size.

The server is the local cluster ``scripts/postgres`` starts (or ``WENSHU_TEST_PG``, an admin URL).
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent


def admin_url() -> str:
    """An admin URL of a running PostgreSQL: WENSHU_TEST_PG, else the local Debian cluster."""
    url = os.environ.get("WENSHU_TEST_PG")
    if url:
        return url
    out = subprocess.run(
        [str(ROOT / "scripts" / "postgres")], capture_output=True, text=True, check=True
    )
    return out.stdout.strip().splitlines()[-1]


@contextmanager
def scratch_database(prefix: str, keep: bool = False) -> Iterator[str]:
    """A new database (URL yielded), dropped afterwards unless ``keep``."""
    admin = admin_url()
    name = f"{prefix}_{secrets.token_hex(4)}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        if not keep:
            with engine.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        engine.dispose()


def server_cpu_seconds() -> float:
    """CPU time (user + system) of every running ``postgres`` process: sample before and after
    a step to see what the server spent on it (processes that ended in between are missed)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        if name.startswith("postgres"):
            fields = stat[stat.rindex(")") + 2 :].split()
            total += int(fields[11]) + int(fields[12])
    return total / tick


def relation_mib(url: str, table: str) -> float:
    """Size of ``table`` with its TOAST data and indexes, in MiB."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            size = conn.scalar(text("SELECT pg_total_relation_size(:t)"), {"t": table})
    finally:
        engine.dispose()
    return float(size or 0) / 2**20
