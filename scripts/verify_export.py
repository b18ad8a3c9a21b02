#!/usr/bin/env python3
"""Verify a Wenshu audit export offline, with nothing but Python and ``cryptography``.

    python verify_export.py EXPORT.json [--pdfs DIR] [--trust ORG=CERT.pem …] [--against OLD.json …]

Checks, naming the exact seq, checkpoint, document or file that fails:

1. the hash chain, from seq 1 to the export's head: every event's content hash (events of
   other orgs come redacted, their content hash given), its link hash and its predecessor;
2. every signed checkpoint: the signature with the org's certificate (``--trust`` pins the
   certificate instead of trusting the one in the export) and the chain's hash at its seq;
3. every document's recorded PDF hash against its ``document.issue`` event;
4. with ``--pdfs``, every PDF in the folder against the recorded hashes;
5. with ``--against``, an earlier export: its checkpoints and events must agree with this
   chain, so a chain rewritten since (even with every hash recomputed) is caught.

The hashing rules are written down in docs/audit.md; this file is an independent reading of
them. Exit status 0 when everything holds, 1 on any failure, 2 on unusable input.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

FORMAT = "wenshu-audit-export/1"
HASHING = "wenshu-audit/2"
CHECKPOINT_KIND = "wenshu-audit-checkpoint/1"
GENESIS = "0" * 64


def canonical(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_hash(ev: dict[str, Any]) -> str:
    return sha256_text(
        canonical(
            {
                "salt": ev["salt"],
                "at": ev["at"],
                "actor": ev["actor"],
                "org": ev["org"],
                "action": ev["action"],
                "object_id": ev["object_id"],
                "details": canonical(ev["details"]),
            }
        )
    )


def link_hash(seq: int, prev: str, content: str) -> str:
    return sha256_text(canonical({"seq": seq, "prev": prev, "content": content}))


def is_hex64(value: Any) -> bool:
    return (
        isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    )


class Verifier:
    def __init__(self) -> None:
        self.failures: list[str] = []
        self.notes: list[str] = []

    def fail(self, message: str) -> None:
        self.failures.append(message)

    # ------------------------------------------------------------ 1. the chain

    def chain(self, export: dict[str, Any]) -> dict[int, str]:
        """Walk the chain; returns seq → hash for the part that verified."""
        hashes: dict[int, str] = {}
        prev, expected = GENESIS, 1
        for ev in export.get("events", []):
            seq = ev.get("seq")
            if seq != expected:
                self.fail(f"chain: seq {expected}: missing or out of order (found seq {seq})")
                return hashes
            if ev.get("prev_hash") != prev:
                self.fail(f"chain: seq {seq}: prev_hash does not match the hash of seq {seq - 1}")
                return hashes
            try:
                content = ev["content_sha256"] if ev.get("redacted") else content_hash(ev)
            except (KeyError, TypeError) as exc:
                self.fail(f"chain: seq {seq}: event is incomplete ({exc})")
                return hashes
            if not is_hex64(content):
                self.fail(f"chain: seq {seq}: redacted event has no valid content_sha256")
                return hashes
            if not ev.get("redacted") and ev.get("content_sha256") not in (None, content):
                self.fail(f"chain: seq {seq}: content altered (content hash does not match)")
                return hashes
            if link_hash(seq, prev, content) != ev.get("hash"):
                self.fail(f"chain: seq {seq}: content altered (hash does not match)")
                return hashes
            hashes[seq] = prev = ev["hash"]
            expected += 1
        head = export.get("head") or {}
        last = expected - 1
        if head.get("seq") != last or head.get("hash") != prev:
            self.fail(
                f"chain: head says seq {head.get('seq')} but the events end at seq {last} "
                f"(truncated or altered after seq {last})"
            )
        else:
            self.notes.append(f"chain: {last} events verified, head {prev[:16]}…")
        return hashes

    # ------------------------------------------------------------ 2. checkpoints

    def certificates(
        self, export: dict[str, Any], pinned: dict[str, bytes], label: str = ""
    ) -> dict[str, dict[str, x509.Certificate]]:
        """Org → sha256 → certificate: the current one (pinned, if given) and the earlier ones
        the chain vouches for (an ``org.certificate`` event that replaced it)."""
        out: dict[str, dict[str, x509.Certificate]] = {}
        for org, entry in (export.get("certificates") or {}).items():
            cert = self._certificate(entry, f"{label}certificate of {org}")
            if cert is None:
                continue
            fingerprint = _fingerprint(cert)
            if org in pinned:
                want = _fingerprint(x509.load_pem_x509_certificate(pinned[org]))
                if fingerprint != want:
                    self.fail(
                        f"{label}certificate of {org}: not the trusted certificate "
                        f"({fingerprint[:16]}… ≠ {want[:16]}…)"
                    )
                    continue
            out[org] = {fingerprint: cert}
            replaced = {
                (ev.get("details") or {}).get("old_cert_sha256")
                for ev in export.get("events", [])
                if ev.get("action") == "org.certificate" and ev.get("org") == org
            }
            for old in entry.get("previous") or []:
                name = f"{label}earlier certificate of {org}"
                earlier = self._certificate(old, name)
                if earlier is None:
                    continue
                if _fingerprint(earlier) not in replaced:
                    self.fail(f"{name}: no org.certificate event in the chain replaced it")
                    continue
                out[org][_fingerprint(earlier)] = earlier
        return out

    def _certificate(self, entry: dict[str, Any], name: str) -> x509.Certificate | None:
        try:
            cert = x509.load_pem_x509_certificate(entry["pem"].encode("ascii"))
        except (KeyError, ValueError, AttributeError) as exc:
            self.fail(f"{name}: unreadable ({exc})")
            return None
        if entry.get("sha256") != _fingerprint(cert):
            self.fail(f"{name}: sha256 does not match its PEM")
            return None
        return cert

    def checkpoints(
        self,
        export: dict[str, Any],
        certs: dict[str, dict[str, x509.Certificate]],
        hashes: dict[int, str],
        label: str = "",
    ) -> None:
        good = 0
        for cp in export.get("checkpoints", []):
            name = f"{label}checkpoint {cp.get('org')}@{cp.get('seq')}"
            known = certs.get(cp.get("org"))
            if not known:
                self.fail(f"{name}: no usable certificate for org {cp.get('org')}")
                continue
            cert = known.get(cp.get("cert_sha256"))
            if cert is None:
                self.fail(
                    f"{name}: signed with a certificate that is not the org's "
                    f"({str(cp.get('cert_sha256'))[:16]}…)"
                )
                continue
            if not signature_ok(cert, cp):
                self.fail(f"{name}: signature invalid")
                continue
            seq = cp["seq"]
            if seq not in hashes:
                self.fail(
                    f"{name}: the chain does not reach seq {seq} (truncated or broken before it)"
                )
            elif hashes[seq] != cp["head_hash"]:
                self.fail(
                    f"{name}: chain hash at seq {seq} contradicts the signed checkpoint "
                    f"(events after seq {good} were rewritten)"
                )
            else:
                good = max(good, seq)
        if not label:
            self._recorded_checkpoints(export)
            last = max(hashes) if hashes else 0
            if good:
                self.notes.append(
                    f"checkpoints: chain signed up to seq {good}"
                    + (f"; seq {good + 1}–{last} not yet covered" if last > good else "")
                )
            elif hashes:
                self.notes.append("checkpoints: no verified checkpoint covers this chain")

    def _recorded_checkpoints(self, export: dict[str, Any]) -> None:
        have = {(cp.get("org"), cp.get("seq")) for cp in export.get("checkpoints", [])}
        for ev in export.get("events", []):
            if ev.get("redacted") or ev.get("action") != "audit.checkpoint":
                continue
            key = (ev.get("org"), (ev.get("details") or {}).get("seq"))
            if key not in have:
                self.fail(
                    f"checkpoint {key[0]}@{key[1]}: recorded at seq {ev['seq']} but "
                    "missing from the export"
                )

    # ------------------------------------------------------------ 3./4. documents and PDFs

    def documents(
        self, export: dict[str, Any], hashes: dict[int, str]
    ) -> dict[str, dict[str, Any]]:
        """The documents whose issue event verified, keyed by id, with the recorded hashes."""
        issued: dict[str, dict[str, Any]] = {}
        for ev in export.get("events", []):
            if (
                ev.get("seq") in hashes
                and not ev.get("redacted")
                and ev.get("action") == "document.issue"
            ):
                issued[ev["object_id"]] = dict(ev["details"], seq=ev["seq"])
        for doc in export.get("documents", []):
            rec = issued.get(doc.get("id"))
            if rec is None:
                self.fail(
                    f"document {doc.get('id')} ({doc.get('wenhao') or doc.get('archive_no')}): "
                    "no document.issue event in the verified chain"
                )
            elif rec.get("pdf_sha256") != doc.get("pdf_sha256"):
                self.fail(
                    f"document {doc['id']}: pdf_sha256 {doc.get('pdf_sha256')} differs from "
                    f"{rec.get('pdf_sha256')} recorded at seq {rec['seq']}"
                )
        return issued

    def pdfs(self, folder: Path, issued: dict[str, dict[str, Any]]) -> None:
        by_hash = {rec.get("pdf_sha256"): doc_id for doc_id, rec in issued.items()}
        by_name = {}
        for doc_id, rec in issued.items():
            for key in (doc_id, rec.get("wenhao"), rec.get("archive_no")):
                if key:
                    by_name[key] = doc_id
        seen = 0
        for path in sorted(folder.glob("*.pdf")):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            seen += 1
            if digest in by_hash:
                continue
            named = by_name.get(path.stem)
            if named is not None:
                rec = issued[named]
                self.fail(
                    f"pdf {path.name}: document {named} ({rec.get('wenhao') or rec.get('archive_no')}) "
                    f"sha256 {digest} differs from {rec.get('pdf_sha256')} recorded at seq {rec['seq']}"
                )
            else:
                self.fail(f"pdf {path.name}: sha256 {digest} is not a document of this export")
        self.notes.append(f"pdfs: {seen} file(s) checked in {folder}")

    # ------------------------------------------------------------ 5. an earlier export

    def against(
        self,
        old: dict[str, Any],
        new: dict[str, Any],
        hashes: dict[int, str],
        pinned: dict[str, bytes],
        label: str,
    ) -> None:
        old_by_seq = {ev.get("seq"): ev.get("hash") for ev in old.get("events", [])}
        for ev in new.get("events", []):
            seq = ev.get("seq")
            if seq in old_by_seq and old_by_seq[seq] != ev.get("hash"):
                self.fail(
                    f"{label}: seq {seq} differs from the earlier export (rewritten from seq {seq})"
                )
                break
        old_head = (old.get("head") or {}).get("seq") or 0
        if old_head > (max(hashes) if hashes else 0):
            self.fail(
                f"{label}: the earlier export reached seq {old_head}, this one ends sooner (truncated)"
            )
        certs = self.certificates(old, pinned, f"{label}: ")
        self.checkpoints(old, certs, hashes, f"{label}: ")


def _fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def signature_ok(cert: x509.Certificate, cp: dict[str, Any]) -> bool:
    key = cert.public_key()
    payload = canonical(
        {
            "kind": CHECKPOINT_KIND,
            "org": cp["org"],
            "seq": cp["seq"],
            "head_hash": cp["head_hash"],
            "at": cp["at"],
        }
    ).encode("utf-8")
    try:
        signature = base64.b64decode(cp["signature"], validate=True)
        if isinstance(key, ec.EllipticCurvePublicKey):  # as archive/checkpoints.py signs
            key.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, payload, padding.PKCS1v15(), hashes.SHA256())
        else:
            return False
    except (InvalidSignature, binascii.Error, ValueError, KeyError, TypeError):
        return False
    return True


def load(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != FORMAT or data.get("hashing") != HASHING:
        raise ValueError(f"{path}: not a {FORMAT} export with {HASHING} hashing")
    return data  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export", type=Path)
    parser.add_argument(
        "--pdfs", type=Path, help="folder of PDFs to check against the recorded hashes"
    )
    parser.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="ORG=CERT.pem",
        help="pin an org's certificate instead of trusting the export's copy",
    )
    parser.add_argument(
        "--against",
        action="append",
        default=[],
        type=Path,
        metavar="OLD.json",
        help="an earlier export whose checkpoints and events must still hold",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    try:
        export = load(args.export)
        pinned = {}
        for item in args.trust:
            org, _, cert_path = item.partition("=")
            pinned[org] = Path(cert_path).read_bytes()
        earlier = [(p, load(p)) for p in args.against]
    except (OSError, ValueError) as exc:
        print(f"cannot read input: {exc}", file=sys.stderr)
        return 2
    v = Verifier()
    hashes = v.chain(export)
    v.checkpoints(export, v.certificates(export, pinned), hashes)
    issued = v.documents(export, hashes)
    if args.pdfs:
        v.pdfs(args.pdfs, issued)
    for path, old in earlier:
        v.against(old, export, hashes, pinned, f"against {path.name}")
    if args.json:
        print(
            json.dumps(
                {"ok": not v.failures, "failures": v.failures, "notes": v.notes},
                ensure_ascii=False,
                indent=1,
            )
        )
    else:
        for note in v.notes:
            print(note)
        for failure in v.failures:
            print(f"FAIL {failure}")
        print("OK" if not v.failures else f"FAILED: {len(v.failures)} problem(s)")
    return 0 if not v.failures else 1


if __name__ == "__main__":
    sys.exit(main())
