"""The inputs a run issues: one-page documents of the four types, for two orgs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from service.doctypes import DOCTYPES as REGISTRY

ROOT = Path(__file__).resolve().parent.parent.parent

ORGS = {"llyb": None, "tyyb": ("太原市医疗保障局", "并医保发", "太原市")}
"""The demo org of ``wenshu init`` and a second one (name, 机关代字, region)."""
ISSUER = {
    "notice": "clerk",
    "inspection_record": "inspector",
    "interview_transcript": "inspector",
    "inspection_report": "clerk",
}
DOCTYPES = tuple(ISSUER)
NEEDS_APPROVAL = frozenset(code for code, t in REGISTRY.items() if t.needs_approval)
"""The types that need 签发 under the default settings."""


def sample(doctype: str) -> dict[str, Any]:
    path = ROOT / "doc_templates" / f"{doctype}.sample.json"
    return dict(json.loads(path.read_text(encoding="utf-8")))


def one_page_input(doctype: str) -> dict[str, Any]:
    """The type's sample cut down to one page: one short item per list, no attachments."""
    data = sample(doctype)
    # no 成文日期: it is the day of the 签发 (the sample's 2021 would not match the 文号's year)
    for optional in ("attachments", "contact", "note", "cc", "printed_by", "print_date", "date"):
        data.pop(optional, None)
    for key, value in data.items():
        if isinstance(value, list) and value and key not in ("inspectors", "interviewers"):
            data[key] = [_shortened(item) for item in value[:1]]
    return data


def _shortened(item: Any) -> Any:
    if isinstance(item, str) and len(item) > 40:
        return item[:39] + "。"
    if isinstance(item, dict):
        return {k: _shortened(v) if k in ("text", "a") else v for k, v in item.items()}
    return item
