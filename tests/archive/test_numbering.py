"""Numbering: consecutive, never duplicated, failures reused, stale reservations reclaimed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from archive import numbering
from archive.db import Database
from archive.errors import NumberingError
from archive.migrate import upgrade

LEASE = timedelta(minutes=5)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    upgrade(database_url)
    database = Database(database_url)
    yield database
    database.dispose()


def now() -> datetime:
    return datetime.now(UTC)


def test_formats_follow_the_standards() -> None:
    assert numbering.format_wenhao("吕医保发", 2021, 44) == "吕医保发〔2021〕44号"
    assert numbering.format_wenhao("吕医保发", 2026, None) == "吕医保发〔2026〕□号"
    assert numbering.format_archive_no("J041", 2021, "D30", "JGK", 44) == "J041-2021-D30-JGK-0044"


def test_consecutive_and_per_series(db: Database) -> None:
    with db.write() as s:
        a = numbering.reserve(s, "wenhao/x/X发/2026", now=now(), lease=LEASE)
        b = numbering.reserve(s, "wenhao/x/X发/2026", now=now(), lease=LEASE)
        c = numbering.reserve(s, "wenhao/x/X发/2027", now=now(), lease=LEASE)
    assert (a.n, b.n, c.n) == (1, 2, 1)


def test_released_number_is_reused_first(db: Database) -> None:
    series = "wenhao/x/X发/2026"
    with db.write() as s:
        first = numbering.reserve(s, series, now=now(), lease=LEASE)
    with db.write() as s:
        numbering.release(s, first, "ConversionError: timeout")
    with db.write() as s:
        again = numbering.reserve(s, series, now=now(), lease=LEASE)
    assert again.n == first.n and again.token != first.token
    with db.write() as s:
        numbering.consume(s, again, "doc1")
        acc = numbering.account(s, series)
    assert acc.used == [1] and acc.missing == [] and acc.released == []


def test_stale_reservation_is_reclaimed_and_the_slow_owner_loses(db: Database) -> None:
    series = "archive/J041/2026/D30/BGS"
    with db.write() as s:
        crashed = numbering.reserve(s, series, now=now() - timedelta(hours=1), lease=LEASE)
    with db.write() as s:
        taken = numbering.reserve(s, series, now=now(), lease=LEASE)
    assert taken.n == crashed.n
    with pytest.raises(NumberingError), db.write() as s:
        numbering.consume(s, crashed, "late-doc")
    with db.write() as s:
        numbering.consume(s, taken, "doc")
        assert numbering.account(s, series).used == [1]


def test_in_flight_numbers_are_accounted_not_missing(db: Database) -> None:
    series = "wenhao/x/X发/2026"
    with db.write() as s:
        numbering.reserve(s, series, now=now(), lease=LEASE)
        acc = numbering.account(s, series)
    assert acc.in_flight == [1] and acc.missing == []


def test_concurrent_reservations_are_distinct_and_contiguous(db: Database) -> None:
    series = "wenhao/x/X发/2026"
    got: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            with db.write() as s:
                r = numbering.reserve(s, series, now=now(), lease=LEASE)
            with lock:
                got.append(r.n)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(1, 81))
