"""Record ids survive the masking that every audit detail and log line goes through."""

from __future__ import annotations

import secrets

from archive.models import new_id
from schemas.masking import mask_identifiers


def test_random_hex_of_that_length_is_sometimes_masked() -> None:
    # Why new_id draws again: plain 20-hex ids come out masked about once in 125.
    plain = [secrets.token_hex(10) for _ in range(5000)]
    assert any(mask_identifiers(i) != i for i in plain)
    assert mask_identifiers("610103811348572162f7") != "610103811348572162f7"


def test_new_ids_are_never_masked_and_never_repeat() -> None:
    ids = [new_id() for _ in range(5000)]
    assert all(len(i) == 20 and int(i, 16) >= 0 for i in ids)
    assert [i for i in ids if mask_identifiers(i) != i] == []
    assert len(set(ids)) == len(ids)
