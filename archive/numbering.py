"""Gap-free numbering of 发文字号 and 档号.

A number is taken from a counter row (never a database sequence: sequences skip values by design)
and recorded as a reservation in one short transaction. The slow steps (render, convert, sign) run
with no lock held. The final transaction marks the reservation ``used`` together with the document
row and its audit event. A request that fails *releases* its number, and the next request of the
series takes it again; a request that died without releasing leaves a reservation whose lease
expires, and that one is reused too. So every number is on a document, waiting in flight, or
recorded as released/voided with its reason: there is never a silent hole.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive.errors import NumberingError
from archive.models import NumberReservation, SeriesCounter

RESERVED, USED, RELEASED, VOIDED = "reserved", "used", "released", "voided"


@dataclass(frozen=True)
class Reservation:
    series: str
    n: int
    token: str


def wenhao_series(org_code: str, zihao: str, year: int) -> str:
    """发文字号 count from 1 per 机关代字 per year."""
    return f"wenhao/{org_code}/{zihao}/{year}"


def archive_series(fonds_no: str, year: int, retention: str, unit_code: str) -> str:
    """档号 件号 count per 全宗/年度/保管期限/机构."""
    return f"archive/{fonds_no}/{year}/{retention}/{unit_code}"


def format_wenhao(zihao: str, year: int, n: int | None) -> str:
    """GB/T 9704 §7.2.5: 吕医保发〔2021〕44号 — 〔〕, full year, no 第, no leading zeros.

    ``n=None`` gives the placeholder printed on drafts.
    """
    return f"{zihao}〔{year}〕{'□' if n is None else n}号"


def format_archive_no(
    fonds_no: str, year: int, retention: str, unit_code: str, n: int | None
) -> str:
    """DA/T 22-2015: J041-2021-D30-JGK-0044 (件号 four digits, zero-padded)."""
    piece = "□□□□" if n is None else f"{n:04d}"
    return f"{fonds_no}-{year}-{retention}-{unit_code}-{piece}"


def reserve(session: Session, series: str, *, now: datetime, lease: timedelta) -> Reservation:
    """Hand out the lowest reusable number of ``series``, or the next new one.

    Must run inside a write transaction; the counter row is locked (FOR UPDATE) so concurrent
    servers on PostgreSQL serialise here, as SQLite does on BEGIN IMMEDIATE.
    """
    token = secrets.token_hex(16)
    stale = now - lease
    reusable = session.scalars(
        select(NumberReservation)
        .where(NumberReservation.series == series)
        .where(
            (NumberReservation.status == RELEASED)
            | ((NumberReservation.status == RESERVED) & (NumberReservation.reserved_at < stale))
        )
        .order_by(NumberReservation.n)
        .limit(1)
        .with_for_update()
    ).first()
    if reusable is not None:
        reusable.status, reusable.token, reusable.reserved_at = RESERVED, token, now
        reusable.reason = None
        return Reservation(series, reusable.n, token)

    counter = session.get(SeriesCounter, series, with_for_update=True)
    if counter is None:
        # First number of a new series. Two servers may race to create the row: the loser's
        # insert fails inside a savepoint and it then locks the winner's row like any other.
        try:
            with session.begin_nested():
                session.add(SeriesCounter(series=series, next_n=1))
        except IntegrityError:
            pass
        counter = session.get(SeriesCounter, series, with_for_update=True, populate_existing=True)
        assert counter is not None
    n = counter.next_n
    counter.next_n = n + 1
    session.add(
        NumberReservation(series=series, n=n, status=RESERVED, token=token, reserved_at=now)
    )
    session.flush()
    return Reservation(series, n, token)


def consume(session: Session, reservation: Reservation, document_id: str) -> None:
    """Mark the number as used by ``document_id``; fails if the reservation was lost meanwhile."""
    result = session.execute(
        update(NumberReservation)
        .where(NumberReservation.series == reservation.series)
        .where(NumberReservation.n == reservation.n)
        .where(NumberReservation.token == reservation.token)
        .where(NumberReservation.status == RESERVED)
        .values(status=USED, document_id=document_id)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise NumberingError(
            f"编号 {reservation.series} 第{reservation.n}号的预留已失效（处理超时后被重新分配），请重新签发"
        )


def release(session: Session, reservation: Reservation, reason: str) -> None:
    """Give the number back for reuse, recording why the request that held it failed."""
    session.execute(
        update(NumberReservation)
        .where(NumberReservation.series == reservation.series)
        .where(NumberReservation.n == reservation.n)
        .where(NumberReservation.token == reservation.token)
        .where(NumberReservation.status == RESERVED)
        .values(status=RELEASED, reason=reason[:2000])
    )


@dataclass
class SeriesAccount:
    """What became of every number of one series."""

    series: str
    next_n: int
    used: list[int] = field(default_factory=list)
    in_flight: list[int] = field(default_factory=list)
    released: list[int] = field(default_factory=list)
    voided: list[dict[str, object]] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)


def account(session: Session, series: str) -> SeriesAccount:
    """Account for 1 … next_n-1: every number must have a reservation row."""
    counter = session.get(SeriesCounter, series)
    acc = SeriesAccount(series=series, next_n=counter.next_n if counter else 1)
    seen: set[int] = set()
    for r in session.scalars(
        select(NumberReservation)
        .where(NumberReservation.series == series)
        .order_by(NumberReservation.n)
    ):
        seen.add(r.n)
        if r.status == USED:
            acc.used.append(r.n)
        elif r.status == RESERVED:
            acc.in_flight.append(r.n)
        elif r.status == RELEASED:
            acc.released.append(r.n)
        else:
            acc.voided.append({"n": r.n, "reason": r.reason})
    acc.missing = [n for n in range(1, acc.next_n) if n not in seen]
    return acc


def series_names(session: Session, prefix: str) -> list[str]:
    return list(
        session.scalars(
            select(SeriesCounter.series)
            .where(SeriesCounter.series.startswith(prefix))
            .order_by(SeriesCounter.series)
        )
    )
