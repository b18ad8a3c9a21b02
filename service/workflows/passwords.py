"""Passwords: the rule a new one must meet, and argon2id hashes (RFC 9106 low-memory profile).

Kept apart from accounts and logins so both can use it: accounts sets passwords, logins
checks them.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from archive.errors import ValidationError
from archive.models import User, UserCredential

MIN_PASSWORD_LENGTH = 8

hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile


def password_problem(password: str, name: str = "") -> str | None:
    """A Chinese message saying what is wrong with a new password, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"密码至少 {MIN_PASSWORD_LENGTH} 位"
    if len(password) > 256:
        return "密码过长（最多 256 位）"
    if name and password.lower() == name.lower():
        return "密码不能与用户名相同"
    if len(set(password)) < 4:
        return "密码过于简单"
    return None


def store_password(session: Session, user: User, password: str, now: datetime) -> None:
    """Hash and store ``password`` for ``user`` (in the caller's write transaction).

    Ends the user's open sessions and clears any lockout.
    """
    problem = password_problem(password, user.name)
    if problem:
        raise ValidationError(problem, errors={"password": [problem]})
    cred = session.get(UserCredential, user.id)
    if cred is None:
        cred = UserCredential(user_id=user.id, failed_logins=0)
        session.add(cred)
    cred.password_hash = hasher.hash(password)
    cred.failed_logins = 0
    cred.locked_until = None
    cred.session_nonce = secrets.token_hex(16)
    cred.password_changed_at = now
