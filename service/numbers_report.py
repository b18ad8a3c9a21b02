"""Accounting for every 发文字号 and 档号 of an org: issued, withdrawn, in flight, missing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from archive import numbering
from archive.models import Document, Withdrawal
from service.accounts import get_org
from service.core import Wenshu


def gaps(ws: Wenshu, org_code: str, year: int | None) -> dict[str, Any]:
    with ws.db.read() as s:
        org = get_org(s, org_code)
        names = numbering.series_names(s, f"wenhao/{org.code}/") + numbering.series_names(
            s, f"archive/{org.fonds_no}/"
        )
        if year is not None:
            names = [n for n in names if f"/{year}" in n]
        withdrawn_docs = set(
            s.scalars(
                select(Withdrawal.document_id)
                .join(Document, Document.id == Withdrawal.document_id)
                .where(Document.org_id == org.id)
            )
        )
        from archive.models import NumberReservation

        series_out, all_withdrawn, all_voided, all_missing, issued = [], [], [], [], 0
        for name in names:
            acc = numbering.account(s, name)
            used_rows = s.execute(
                select(NumberReservation.n, NumberReservation.document_id)
                .where(NumberReservation.series == name)
                .where(NumberReservation.status == numbering.USED)
            ).all()
            withdrawn = sorted(n for n, doc_id in used_rows if doc_id in withdrawn_docs)
            kind = "wenhao" if name.startswith("wenhao/") else "archive_no"
            series_out.append(
                {
                    "series": name,
                    "kind": kind,
                    "issued": len(acc.used),
                    "used": acc.used,
                    "in_flight": acc.in_flight,
                    "released": acc.released,
                    "withdrawn": withdrawn,
                    "voided": acc.voided,
                    "missing": acc.missing,
                }
            )
            if kind == "wenhao":
                issued += len(acc.used)
                all_withdrawn += withdrawn
                all_voided += acc.voided
                all_missing += acc.missing
            else:
                all_missing += acc.missing
    return {
        "series": series_out,
        "issued": issued,
        "withdrawn": all_withdrawn,
        "voided": all_voided,
        "missing": all_missing,
    }
