"""Login names: one spelling per person, so nobody can pass for someone else.

A name is NFKC-normalised and lower-cased (full-width ``ｄｅｍｏ`` is ``demo``), then must be
``^[a-z0-9][a-z0-9._-]{1,63}$`` — which refuses empty names, spaces, zero-width and control
characters, slashes and every non-ASCII look-alike (Cyrillic ``а`` for Latin ``a``). The
person's own name (姓名) is ``users.full_name``, free text kept apart from the login. Names the
trail uses for something other than a person (``system``, ``cli``, ``anonymous``) and the
names of roles are reserved.
"""

from __future__ import annotations

import re
import unicodedata

from archive.errors import ValidationError

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")

RESERVED = frozenset(
    {
        "admin", "administrator", "anonymous", "api", "auditadmin", "cli", "daemon", "guest",
        "null", "none", "nobody", "operator", "postgres", "root", "secadmin", "security",
        "superuser", "sys", "sysadmin", "system", "wenshu", "www",
    }
)  # fmt: skip
"""Names no account may take: the trail's own actors, the roles, the usual system accounts."""

PROBLEM = "用户名须为 2–64 位小写字母、数字或 . _ -，以字母或数字开头"


def canonical_name(name: str) -> str:
    """The spelling a typed name is looked up by: NFKC, lower case, trimmed."""
    return unicodedata.normalize("NFKC", name).strip().lower()


def is_valid_name(name: str) -> bool:
    """Whether ``name`` (already canonical) has the form of a login name."""
    return NAME_PATTERN.fullmatch(name) is not None


def checked_name(name: str) -> str:
    """The canonical form of a new user's name, or a ``ValidationError`` naming ``name``."""
    canonical = canonical_name(name)
    if not is_valid_name(canonical):
        raise ValidationError(f"用户名无效：{PROBLEM}", errors={"name": [PROBLEM]})
    if canonical in RESERVED:
        raise ValidationError(
            f"用户名 {canonical} 是保留名称，请换一个", errors={"name": ["保留名称"]}
        )
    return canonical
