"""Accounting for every 发文字号 and 档号 of an org: issued, withdrawn, in flight, missing.

Each series (发文字号 per 机关代字 and year; 档号 per 全宗/年度/保管期限/机构) must account for
every number from 1 to its counter: on a document, in flight, released for reuse or voided
with a reason. A number with no record, or recorded as used by a document that is not in the
archive, is *missing* — listed with the reason, never left silent.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from archive import numbering
from archive.audit import iso
from archive.models import Document, NumberReservation, Org, Withdrawal
from archive.retention import archive_year
from service.wiring import Wenshu
from service.workflows.accounts import get_org


def _describe(name: str) -> dict[str, Any]:
    """What a series name means: its kind, year and how to print its numbers."""
    parts = name.split("/")
    if parts[0] == "wenhao":  # wenhao/{org}/{zihao}/{year}
        zihao, year = "/".join(parts[2:-1]), int(parts[-1])
        return {
            "kind": "wenhao",
            "year": year,
            "zihao": zihao,
            "label": numbering.format_wenhao(zihao, year, None).removesuffix("□号"),
            "format": lambda n: numbering.format_wenhao(zihao, year, n),
        }
    fonds, year, retention, unit = parts[1], int(parts[2]), parts[3], parts[4]  # archive/…
    return {
        "kind": "archive_no",
        "year": year,
        "retention": retention,
        "label": f"{fonds}-{year}-{retention}-{unit}",
        "format": lambda n: numbering.format_archive_no(fonds, year, retention, unit, n),
    }


def gaps(ws: Wenshu, org_code: str, year: int | None) -> dict[str, Any]:
    with ws.db.read() as s:
        org = get_org(s, org_code)
        names = numbering.series_names(s, f"wenhao/{org.code}/") + numbering.series_names(
            s, f"archive/{org.fonds_no}/"
        )
        described = [(n, _describe(n)) for n in names]
        if year is not None:
            described = [(n, d) for n, d in described if d["year"] == year]
        docs = {d.id: d for d in s.scalars(select(Document).where(Document.org_id == org.id))}
        withdrawals = {
            w.document_id: w
            for w in s.scalars(
                select(Withdrawal)
                .join(Document, Document.id == Withdrawal.document_id)
                .where(Document.org_id == org.id)
            )
        }
        series_out = [_series(s, name, d, docs, withdrawals) for name, d in described]
    return _totals(series_out, docs, withdrawals, org, year)


def _series(
    s: Any,
    name: str,
    d: dict[str, Any],
    docs: dict[str, Document],
    withdrawals: dict[str, Withdrawal],
) -> dict[str, Any]:
    acc = numbering.account(s, name)
    fmt = d["format"]
    used = dict(
        s.execute(
            select(NumberReservation.n, NumberReservation.document_id)
            .where(NumberReservation.series == name)
            .where(NumberReservation.status == numbering.USED)
        ).all()
    )
    field = "wenhao" if d["kind"] == "wenhao" else "archive_no"
    missing = [{"n": n, "number": fmt(n), "reason": "该编号没有任何记录"} for n in acc.missing]
    for n, doc_id in sorted(used.items()):
        doc = docs.get(doc_id or "")
        if doc is None:
            missing.append(
                {
                    "n": n,
                    "number": fmt(n),
                    "reason": f"记录为文书 {doc_id} 所用，但归档中没有该文书",
                }
            )
        elif getattr(doc, field) != fmt(n):
            missing.append(
                {
                    "n": n,
                    "number": fmt(n),
                    "reason": f"记录为文书 {doc_id} 所用，但该文书编号为 {getattr(doc, field)}",
                }
            )
    missing.sort(key=lambda m: m["n"])
    return {
        "series": name,
        "kind": d["kind"],
        "label": d["label"],
        "year": d["year"],
        "zihao": d.get("zihao"),
        "retention": d.get("retention"),
        "next_n": acc.next_n,
        "issued": len(acc.used),
        "used": acc.used,
        "in_flight": acc.in_flight,
        "released": acc.released,
        "withdrawn": sorted(n for n, doc_id in used.items() if doc_id in withdrawals),
        "voided": [{"n": v["n"], "number": fmt(v["n"]), "reason": v["reason"]} for v in acc.voided],
        "missing": missing,
    }


def _totals(
    series: list[dict[str, Any]],
    docs: dict[str, Document],
    withdrawals: dict[str, Withdrawal],
    org: Org,
    year: int | None,
) -> dict[str, Any]:
    """Across the series: documents issued, and every withdrawn, voided or missing number."""
    archive_series = [x for x in series if x["kind"] == "archive_no"]
    withdrawn = [
        {
            "document_id": doc.id,
            "wenhao": doc.wenhao,
            "archive_no": doc.archive_no,
            "reason": w.reason,
            "withdrawn_at": iso(w.withdrawn_at),
        }
        for doc_id, w in sorted(withdrawals.items(), key=lambda kv: kv[1].withdrawn_at)
        if (doc := docs.get(doc_id)) is not None and (year is None or archive_year(doc) == year)
    ]
    return {
        "org": org.code,
        "year": year,
        "series": series,
        "issued": sum(x["issued"] for x in archive_series),  # every document has one 档号
        "withdrawn": withdrawn,
        "voided": [dict(v, series=x["series"]) for x in series for v in x["voided"]],
        # Out at the moment: a request is using it, or it waits to be reused by the next one.
        "pending": [
            {"series": x["series"], "n": n, "status": status}
            for x in series
            for status in ("in_flight", "released")
            for n in x[status]
        ],
        "missing": [dict(m, series=x["series"]) for x in series for m in x["missing"]],
    }
