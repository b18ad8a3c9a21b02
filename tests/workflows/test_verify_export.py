"""scripts/verify_export.py verifies a real export offline and fails, naming what, on each
tampered variant — including a chain rewritten with every hash recomputed."""

from __future__ import annotations

import ast
import copy
import importlib.util
import json
import shutil
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from archive.checkpoints import payload, sign
from service.documents.pades import make_dev_identity
from service.workflows.accounts import add_org, add_user
from tests.support import ROOT, sample
from tests.support.apps import Client, make_app
from tests.support.offline import verify_export as run

SCRIPT = ROOT / "scripts" / "verify_export.py"
_spec = importlib.util.spec_from_file_location("verify_export", SCRIPT)
assert _spec and _spec.loader
vx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vx)


@pytest.fixture(scope="module")
def exported(converter_dir: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """llyb's export: two notices of llyb (one withdrawn), one of tyyb, reads, a search.

    Built once for the module; tests change copies of it, never the original."""
    tmp_path = tmp_path_factory.mktemp("export")
    app = make_app(tmp_path, converter_dir)
    ws = app.extensions["wenshu"]
    add_org(ws, code="tyyb", name="太原市医疗保障局", zihao="并医保发", region="太原市")
    clerk, auditor, other = (
        Client(app, add_user(ws, name=name, role=role, org_code=org))
        for name, role, org in (
            ("u-clerk", "clerk", "llyb"),
            ("u-auditor", "auditor", "llyb"),
            ("u-other-clerk", "clerk", "tyyb"),
        )
    )
    docs = []
    for _ in range(2):
        r = clerk.post(
            "/api/v1/documents", {"type": "notice", "org": "llyb", "data": sample("notice")}
        )
        assert r.status_code == 201, r.get_json()
        docs.append(r.get_json())
    theirs = other.post(
        "/api/v1/documents", {"type": "notice", "org": "tyyb", "data": sample("notice")}
    ).get_json()
    clerk.post(f"/api/v1/documents/{docs[1]['id']}/withdraw", {"reason": "内容有误"})
    other.get("/api/v1/search?q=专项治理")
    pdfs = tmp_path / "pdfs"
    pdfs.mkdir()
    for d in docs:
        (pdfs / f"{d['wenhao']}.pdf").write_bytes(auditor.get(d["links"]["pdf"]).data)
    r = auditor.get("/api/v1/audit/export")
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    path = tmp_path / "export.json"
    path.write_bytes(r.data)
    yield {"path": path, "export": json.loads(r.data), "docs": docs, "theirs": theirs, "pdfs": pdfs}
    ws.close()


def first(export: dict[str, Any], pred: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    return next(e for e in export["events"] if pred(e))


def recompute(export: dict[str, Any]) -> None:
    """What a forger does after editing: recompute every content and link hash, and the head."""
    prev = "0" * 64
    for ev in export["events"]:
        content = ev["content_sha256"] if ev.get("redacted") else vx.content_hash(ev)
        if not ev.get("redacted"):
            ev["content_sha256"] = content
        ev["prev_hash"], ev["hash"] = prev, vx.link_hash(ev["seq"], prev, content)
        prev = ev["hash"]
    export["head"] = {"seq": export["events"][-1]["seq"], "hash": prev}


def test_a_real_export_verifies_offline(exported: dict[str, Any], tmp_path: Path) -> None:
    code, out = run(exported["path"], tmp_path, "--pdfs", str(exported["pdfs"]))
    assert code == 0, out
    n = exported["export"]["head"]["seq"]
    assert f"chain: {n} events verified" in out and "pdfs: 2 file(s) checked" in out
    assert code == 0 and vx.main([str(exported["path"]), "--json"]) == 0
    assert "checkpoints: chain signed up to seq" in out


def test_the_export_shows_nothing_of_another_org(exported: dict[str, Any]) -> None:
    export, text = exported["export"], exported["path"].read_text(encoding="utf-8")
    theirs = exported["theirs"]
    for secret in (theirs["id"], theirs["wenhao"], "u-other-clerk", "tyyb", "太原", "并医保发"):
        assert secret not in text
    redacted = [e for e in export["events"] if e.get("redacted")]
    assert redacted and all(
        set(e) == {"seq", "redacted", "content_sha256", "prev_hash", "hash"} for e in redacted
    )
    assert {e["org"] for e in export["events"] if not e.get("redacted")} == {"llyb"}
    assert set(export["certificates"]) == {"llyb"} and {
        c["org"] for c in export["checkpoints"]
    } == {"llyb"}
    assert {d["id"] for d in export["documents"]} == {d["id"] for d in exported["docs"]}


def _issue_seq(export: dict[str, Any]) -> int:
    return first(export, lambda e: e.get("action") == "document.issue")["seq"]


def _edit_details(x: dict[str, Any]) -> int:
    ev = first(x, lambda e: e.get("action") == "document.issue")
    ev["details"]["wenhao"] = "吕医保发〔2026〕99号"
    return int(ev["seq"])


def _edit_redacted(x: dict[str, Any]) -> int:
    ev = first(x, lambda e: e.get("redacted"))
    ev["content_sha256"] = "f" * 64
    return int(ev["seq"])


def _delete(x: dict[str, Any]) -> int:
    seq = _issue_seq(x)
    x["events"] = [e for e in x["events"] if e["seq"] != seq]
    return seq


def _reorder(x: dict[str, Any]) -> int:
    i = next(i for i, e in enumerate(x["events"]) if e.get("action") == "document.issue")
    x["events"][i], x["events"][i + 1] = x["events"][i + 1], x["events"][i]
    return int(x["events"][i]["seq"]) - 1


def _truncate(x: dict[str, Any]) -> int:
    x["events"] = x["events"][:-4]
    return int(x["events"][-1]["seq"])


def _truncate_and_fix_head(x: dict[str, Any]) -> int:
    last_cp = max(c["seq"] for c in x["checkpoints"])
    x["events"] = [e for e in x["events"] if e["seq"] < last_cp]
    x["head"] = {"seq": x["events"][-1]["seq"], "hash": x["events"][-1]["hash"]}
    return last_cp


@pytest.mark.parametrize(
    ("tamper", "expect"),
    [
        (_edit_details, "chain: seq {n}: content altered"),
        (_edit_redacted, "chain: seq {n}: content altered"),
        (_delete, "chain: seq {n}: missing or out of order"),
        (_reorder, "chain: seq {n}: missing or out of order"),
        (_truncate, "but the events end at seq {n} (truncated"),
        (_truncate_and_fix_head, "checkpoint llyb@{n}: the chain does not reach seq {n}"),
    ],
    ids=["edit", "edit-redacted", "delete", "reorder", "truncate", "truncate-fix-head"],
)
def test_each_tampered_export_fails_naming_the_seq(
    exported: dict[str, Any], tmp_path: Path, tamper: Callable[[dict[str, Any]], int], expect: str
) -> None:
    variant = copy.deepcopy(exported["export"])
    n = tamper(variant)
    code, out = run(variant, tmp_path)
    assert code == 1, out
    assert expect.format(n=n) in out, out


def test_a_rewrite_with_recomputed_hashes_contradicts_the_signed_checkpoint(
    exported: dict[str, Any], tmp_path: Path
) -> None:
    variant = copy.deepcopy(exported["export"])
    n = _edit_details(variant)
    recompute(variant)
    code, out = run(variant, tmp_path)
    assert code == 1 and "contradicts the signed checkpoint" in out, out
    assert "FAIL chain:" not in out  # the chain itself is consistent again
    cp = min(c["seq"] for c in variant["checkpoints"] if c["seq"] >= n)
    assert f"checkpoint llyb@{cp}: chain hash at seq {cp}" in out


def test_checkpoints_certificates_and_documents_are_checked(
    exported: dict[str, Any], tmp_path: Path
) -> None:
    export = exported["export"]
    cp = export["checkpoints"][-1]

    bad_sig = copy.deepcopy(export)
    bad_sig["checkpoints"][-1]["head_hash"] = "a" * 64
    code, out = run(bad_sig, tmp_path)
    assert code == 1 and f"FAIL checkpoint llyb@{cp['seq']}: signature invalid" in out, out

    dropped = copy.deepcopy(export)
    dropped["checkpoints"] = dropped["checkpoints"][:-1]
    code, out = run(dropped, tmp_path)
    assert f"FAIL checkpoint llyb@{cp['seq']}: recorded at seq" in out, out

    doc = exported["docs"][0]
    swapped = copy.deepcopy(export)
    next(d for d in swapped["documents"] if d["id"] == doc["id"])["pdf_sha256"] = "b" * 64
    code, out = run(swapped, tmp_path)
    assert code == 1 and f"FAIL document {doc['id']}: pdf_sha256 {'b' * 64} differs" in out, out


def _forge_everything(export: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """A full compromise: rewrite an event, recompute the chain, re-sign every checkpoint with
    a new key and ship its certificate. Standalone, such an export verifies."""
    from archive.checkpoints import cert_fingerprint

    forged = copy.deepcopy(export)
    n = _edit_details(forged)
    key, cert = make_dev_identity("吕梁市医疗保障局", org_code="llyb")
    fingerprint = cert_fingerprint(cert)
    forged["certificates"]["llyb"] = {"sha256": fingerprint, "pem": cert.decode(), "name": "x"}
    events = {e["seq"]: e for e in forged["events"]}
    recorded = {
        e["details"]["seq"]: e for e in forged["events"] if e.get("action") == "audit.checkpoint"
    }
    for c in sorted(forged["checkpoints"], key=lambda c: c["seq"]):
        recompute(forged)  # each re-signed checkpoint's event changes the hashes after it
        c["head_hash"], c["cert_sha256"] = events[c["seq"]]["hash"], fingerprint
        c["signature"] = sign(
            key, payload(org="llyb", seq=c["seq"], head_hash=c["head_hash"], at=c["at"])
        )
        recorded[c["seq"]]["details"].update(head_hash=c["head_hash"], cert_sha256=fingerprint)
    recompute(forged)
    return forged, n


def test_a_full_forgery_is_caught_by_a_pinned_certificate_or_an_earlier_export(
    exported: dict[str, Any], tmp_path: Path
) -> None:
    forged, n = _forge_everything(exported["export"])
    assert run(forged, tmp_path)[0] == 0  # why an auditor pins the certificate and keeps exports

    trusted = tmp_path / "llyb.pem"
    trusted.write_text(exported["export"]["certificates"]["llyb"]["pem"])
    code, out = run(forged, tmp_path, "--trust", f"llyb={trusted}")
    assert code == 1 and "certificate of llyb: not the trusted certificate" in out, out

    code, out = run(forged, tmp_path, "--against", str(exported["path"]))
    assert code == 1, out
    assert (
        f"FAIL against export.json: seq {n} differs from the earlier export (rewritten from seq {n})"
        in out
    )
    assert "contradicts the signed checkpoint" in out


def test_pdfs_are_checked_against_the_recorded_hashes(
    exported: dict[str, Any], tmp_path: Path
) -> None:
    doc = exported["docs"][0]
    pdfs = tmp_path / "pdfs"
    shutil.copytree(exported["pdfs"], pdfs)
    code, out = run(exported["path"], tmp_path, "--pdfs", str(pdfs))
    assert code == 0, out
    pdf = pdfs / f"{doc['wenhao']}.pdf"
    data = bytearray(pdf.read_bytes())
    data[len(data) // 2] ^= 0x01
    pdf.write_bytes(bytes(data))
    (pdfs / "stranger.pdf").write_bytes(b"%PDF-1.7 not ours")
    code, out = run(exported["path"], tmp_path, "--pdfs", str(pdfs))
    assert code == 1
    assert f"FAIL pdf {doc['wenhao']}.pdf: document {doc['id']}" in out and "differs from" in out
    assert "FAIL pdf stranger.pdf: sha256" in out and "is not a document of this export" in out


def test_tampering_in_the_database_shows_in_the_next_export(
    users: dict[str, Any], ws: Any, tmp_path: Path
) -> None:
    """Another org's row edited by raw SQL: the llyb auditor cannot see it, yet the chain breaks
    at its seq in llyb's export."""
    before = json.loads(users["auditor"].get("/api/v1/audit/export").data)
    assert run(before, tmp_path)[0] == 0
    theirs = first(before, lambda e: e.get("redacted"))["seq"]
    con = sqlite3.connect(ws.settings.paths.data / "wenshu.db", timeout=60)
    con.execute("DROP TRIGGER audit_events_no_update")
    con.execute(f"UPDATE audit_events SET details='{{}}' WHERE seq={theirs}")
    con.commit()
    con.close()
    after = json.loads(users["auditor"].get("/api/v1/audit/export").data)
    code, out = run(after, tmp_path)
    assert code == 1 and f"FAIL chain: seq {theirs}: content altered" in out, out


def test_the_script_needs_only_the_standard_library_and_cryptography() -> None:
    tree = ast.parse(SCRIPT.read_text(encoding="utf-8"))
    roots = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
        if not (isinstance(node, ast.ImportFrom) and node.level)
    }
    assert roots - set(sys.stdlib_module_names) == {"cryptography"}


def test_the_offline_verifier_checks_rsa_checkpoints_too() -> None:
    from cryptography import x509

    from tests.support.offline import rsa_identity

    key, cert = rsa_identity("llyb")
    cp = {"org": "llyb", "seq": 7, "head_hash": "a" * 64, "at": "2026-11-23T04:50:00Z"}
    cp["signature"] = sign(key, payload(**cp))
    assert vx.signature_ok(x509.load_pem_x509_certificate(cert), cp)
    assert not vx.signature_ok(x509.load_pem_x509_certificate(cert), dict(cp, seq=8))
