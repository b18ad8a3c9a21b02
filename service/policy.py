"""Who may do what: the one table every check asks (API endpoints, web pages, use cases).

An action names something a user does; its entry lists the roles that may. ``admin`` passes
every check (until the separated administrators of 等保 2.0 replace it). Issuing is narrowed
further by the document type (``DocType.issuers``): a role must hold ``documents.issue`` and be
among the type's issuers; drafting (``drafts.write``) likewise. ``approver`` (签发人, the
机关负责人 of 党政机关公文处理工作条例 第十七条) approves or returns its org's drafts and never
drafts or issues; that an approver may not approve a draft of their own is the use case's check
(``service/workflows/drafts.py``), not a row here. Org confinement is the other half of every check
(``Principal.may_see_org``); this table says nothing about orgs.

``tests/http/test_authz_matrix.py`` keeps its own oracle of who may call what, so a change here
that opens an endpoint shows up as a failing cell there.
"""

from __future__ import annotations

from collections.abc import Collection

ROLES = ("clerk", "inspector", "approver", "auditor", "admin")
"""Every role a user can hold (``wenshu user-add --role``)."""

ADMIN = "admin"

_EVERYONE = frozenset(ROLES)
_ISSUERS = frozenset({"clerk", "inspector"})

PERMISSIONS: dict[str, frozenset[str]] = {
    "documents.read": _EVERYONE,  # lists, pages, downloads, verification, search, cases
    "documents.issue": _ISSUERS,  # preview, issue, withdraw — and only the type's issuers
    "drafts.write": _ISSUERS,  # 拟稿: create, save, submit, withdraw — the type's issuers
    "drafts.approve": frozenset({"approver"}),  # 核稿/签发: approve or return
    "documents.preview": _ISSUERS | {"approver"},  # the type's issuers, and the approver,
    # who sees the final layout of what it is asked to sign
    "drafts.read": frozenset({"clerk", "inspector", "approver", "auditor"}),
    "cases.create": _ISSUERS,
    "signed_copies.upload": _ISSUERS,  # and recognising a stored scan again
    "signed_copies.review": frozenset({"inspector", "auditor"}),  # confirm a scan's check
    "attachments.upload": _ISSUERS,  # files to attach to the org's notices
    "audit.read": frozenset({"auditor"}),  # the trail, number gaps, fixity, reports, export
    "admin.users": frozenset(),  # users, orgs, certificates, seals: admin only
    "metrics.read": frozenset(),  # Prometheus scrape: admin only
}


def may(role: str, action: str, *, issuers: Collection[str] | None = None) -> bool:
    """Whether ``role`` may do ``action`` (for ``documents.issue`` and ``drafts.write``, of a
    type with ``issuers``)."""
    if role == ADMIN:
        return True
    if role not in PERMISSIONS[action]:
        return False
    # A type narrows the roles that draft and issue documents to its own issuers; a role that
    # issues nothing (the approver previewing what it is asked to sign) is not narrowed by it.
    return issuers is None or role not in _ISSUERS or role in issuers


def roles_for(action: str) -> tuple[str, ...]:
    """The roles that may do ``action``, admin included, in the order of ``ROLES``."""
    return tuple(r for r in ROLES if may(r, action))
