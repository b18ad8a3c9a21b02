"""Record ids: 20 random hex characters that the masking of identifiers never touches.

Ids travel in audit details, log lines and search answers, every one of which goes through
:func:`schemas.masking.mask_identifiers`. About one random 20-hex id in 125 holds a run shaped
like a 身份证号 or a 统一社会信用代码 (``610103811348572162f7``) and would come out masked —
an audit event naming a draft it could no longer be matched to. Such a draw is drawn again.
"""

from __future__ import annotations

import secrets

from schemas.masking import mask_identifiers

__all__ = ["new_id"]


def new_id() -> str:
    """A fresh id for a document, a draft or an upload, unchanged by the masking."""
    while True:
        candidate = secrets.token_hex(10)
        if mask_identifiers(candidate) == candidate:
            return candidate
