"""Who may do what: the one table every check asks (API endpoints, web pages, use cases).

An action names something a user does; its entry lists the roles that may. Issuing is narrowed
further by the document type (``DocType.issuers``): a role must hold ``documents.issue`` and be
among the type's issuers; drafting (``drafts.write``) likewise. ``approver`` (签发人, the
机关负责人 of 党政机关公文处理工作条例 第十七条) approves or returns its org's drafts and never
drafts or issues; that an approver may not approve a draft of their own is the use case's check
(``service/workflows/drafts.py``), not a row here. Org confinement is the other half of every check
(``Principal.may_see_org``); this table says nothing about orgs.

The administrators are separated as 等保 2.0 (GB/T 22239-2019, 安全管理中心) asks — 三员分立:

- ``sysadmin`` (系统管理员): accounts (create, disable, enable), orgs and their settings, the
  service's metrics;
- ``secadmin`` (安全管理员): roles, password resets (a temporary password the user must change),
  signing certificates and seals;
- ``auditadmin`` (审计管理员): reads the administrators' trail and changes nothing.

None of them drafts, approves, issues or reads documents or the documents' trail; each one's
actions are events in the administrators' trail, which all three read
(``service/workflows/accounts/admin_trail.py``). The role ``admin`` of before holds nothing:
``wenshu init`` turns every ``admin`` into a ``sysadmin`` (``LEGACY_ADMIN``).

``tests/http/test_authz_matrix.py`` keeps its own oracle of who may call what, so a change here
that opens an endpoint shows up as a failing cell there.
"""

from __future__ import annotations

from collections.abc import Collection

BUSINESS_ROLES = ("clerk", "inspector", "approver", "auditor")
"""The roles that work with one org's documents."""
ADMIN_ROLES = ("sysadmin", "secadmin", "auditadmin")
"""The three separated administrators; installation-wide, never reading documents."""
ROLES = BUSINESS_ROLES + ADMIN_ROLES
"""Every role a user can hold (``wenshu user-add --role``)."""

LEGACY_ADMIN = "admin"
"""The single administrator of before: may do nothing until ``wenshu init`` splits it."""

_BUSINESS = frozenset(BUSINESS_ROLES)
_ISSUERS = frozenset({"clerk", "inspector"})

PERMISSIONS: dict[str, frozenset[str]] = {
    "documents.read": _BUSINESS,  # lists, pages, downloads, verification, search, cases
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
    "admin.read": frozenset({"sysadmin", "secadmin"}),  # the users and orgs pages
    "users.manage": frozenset({"sysadmin"}),  # create, disable, enable accounts
    "orgs.manage": frozenset({"sysadmin"}),  # create orgs, edit their settings
    "users.roles": frozenset({"secadmin"}),  # change a role, reset a password
    "orgs.certificates": frozenset({"secadmin"}),  # signing certificate, seal
    "admin.trail": frozenset(ADMIN_ROLES),  # the administrators' trail: each sees the others
    "metrics.read": frozenset({"sysadmin"}),  # Prometheus scrape
}


def may(role: str, action: str, *, issuers: Collection[str] | None = None) -> bool:
    """Whether ``role`` may do ``action`` (for ``documents.issue`` and ``drafts.write``, of a
    type with ``issuers``)."""
    if role not in PERMISSIONS[action]:
        return False
    # A type narrows the roles that draft and issue documents to its own issuers; a role that
    # issues nothing (the approver previewing what it is asked to sign) is not narrowed by it.
    return issuers is None or role not in _ISSUERS or role in issuers


def roles_for(action: str) -> tuple[str, ...]:
    """The roles that may do ``action``, in the order of ``ROLES``."""
    return tuple(r for r in ROLES if may(r, action))


def is_admin(role: str) -> bool:
    """Whether ``role`` is one of the separated administrators (installation-wide)."""
    return role in ADMIN_ROLES
