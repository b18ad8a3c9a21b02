"""Passwords: the rule a new one must meet, its history, and argon2id hashes (RFC 9106
low-memory profile).

A new password has at least 12 characters, does not contain the login name, is not one of
the 20,000 most common passwords — nor one of them dressed up (``Password@2026``,
``p@ssw0rd1234``, ``qwertyqwerty``) — and repeats none of the user's last five.
``common-passwords.txt.gz`` is the head of zxcvbn's ``data/passwords.txt`` (dropbox/zxcvbn,
MIT licence; frequencies from Xato's ten million leaked passwords), lower-cased, at least four
characters long.
"""

from __future__ import annotations

import gzip
import re
import secrets
import unicodedata
from datetime import datetime
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.errors import ValidationError
from archive.models import PasswordHistory, User, UserCredential

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
HISTORY = 5
"""A new password may not be any of the user's last this many (the current one included)."""

hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile

_COMMON_FILE = Path(__file__).with_name("common-passwords.txt.gz")
_LEET = str.maketrans("0134578@$!|", "oieastbasil")
_EDGES = re.compile(r"^[\W\d_]+|[\W\d_]+$")


@cache
def common_passwords() -> frozenset[str]:
    with gzip.open(_COMMON_FILE, "rt", encoding="utf-8") as fh:
        return frozenset(line.strip() for line in fh if line.strip())


def is_common(password: str) -> bool:
    """Whether ``password`` is a common one, or one with digits and signs around it, letters
    swapped for look-alike digits, a short piece repeated, or a run (``123456789012``)."""
    plain = unicodedata.normalize("NFKC", password).lower()
    common = common_passwords()
    core = _EDGES.sub("", plain)
    candidates = {plain, core, plain.translate(_LEET), _EDGES.sub("", plain.translate(_LEET))}
    if any(c in common for c in candidates):
        return True
    for text in (plain, core):
        for size in range(1, len(text) // 2 + 1):
            if len(text) % size == 0 and text[:size] * (len(text) // size) == text:
                return True  # aaaaaaaaaaaa, abcabcabcabc
    return len(set(plain)) < 5 or _is_run(plain)


def _is_run(text: str) -> bool:
    """Characters one after the other, up or down: ``abcdefghijkl``, ``123456789012``."""
    modulo = 10 if text.isdigit() else 0x110000
    steps = {(ord(b) - ord(a)) % modulo for a, b in zip(text, text[1:], strict=False)}
    return steps in ({1}, {modulo - 1})


def password_problem(password: str, name: str = "") -> str | None:
    """A Chinese message saying what is wrong with a new password, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"密码至少 {MIN_PASSWORD_LENGTH} 位"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"密码过长（最多 {MAX_PASSWORD_LENGTH} 位）"
    if len(name) >= 3 and name.lower() in unicodedata.normalize("NFKC", password).lower():
        return "密码不能包含用户名"
    if is_common(password):
        return "密码过于常见或简单，请换一个不易猜到的密码"
    return None


def temporary_password() -> str:
    """A password an administrator hands over once; it opens only the change-password page."""
    return secrets.token_urlsafe(12)


def store_password(
    session: Session, user: User, password: str, now: datetime, *, must_change: bool = False
) -> None:
    """Hash and store ``password`` for ``user`` (in the caller's write transaction), keeping
    the one it replaces in the history. Ends the user's open sessions.

    ``must_change``: a temporary password, to be replaced at the next login.
    """
    problem = password_problem(password, user.name)
    if problem is None and _reused(session, user.id, password):
        problem = f"新密码不能与最近 {HISTORY} 次使用过的密码相同"
    if problem:
        raise ValidationError(problem, errors={"password": [problem]})
    cred = session.get(UserCredential, user.id)
    if cred is None:
        cred = UserCredential(user_id=user.id)
        session.add(cred)
    else:
        session.add(
            PasswordHistory(user_id=user.id, password_hash=cred.password_hash, changed_at=now)
        )
    cred.password_hash = hasher.hash(password)
    cred.must_change = must_change
    cred.session_nonce = secrets.token_hex(16)
    cred.password_changed_at = now


def _reused(session: Session, user_id: int, password: str) -> bool:
    """Whether ``password`` is the current one or one of the last ``HISTORY - 1`` before."""
    current = session.get(UserCredential, user_id)
    hashes = [current.password_hash] if current is not None else []
    hashes += session.scalars(
        select(PasswordHistory.password_hash)
        .where(PasswordHistory.user_id == user_id)
        .order_by(PasswordHistory.id.desc())
        .limit(HISTORY - 1)
    )
    for stored in hashes:
        try:
            if hasher.verify(stored, password):
                return True
        except (VerificationError, InvalidHashError):
            continue
    return False
