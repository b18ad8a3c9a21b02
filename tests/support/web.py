"""Web-login helpers: the demo password, the CSRF token of a page, a PKCS#12 upload."""

from __future__ import annotations

import io
import re
from typing import Any

from service.workflows.accounts import add_user

PASSWORD = "Juzhen-2026!"


def csrf_field(html: str) -> str:
    m = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def pkcs12_upload(app: Any, ws: Any, data: bytes) -> tuple[int, str]:
    """The admin's certificate upload (the one file upload that takes PKCS#12)."""

    add_user(ws, name="h-admin", role="admin", org_code="llyb", password=PASSWORD)
    c = app.test_client()
    token = csrf_field(c.get("/login").get_data(as_text=True))
    c.post("/login", data={"name": "h-admin", "password": PASSWORD, "csrf_token": token})
    token = csrf_field(c.get("/admin/orgs").get_data(as_text=True))
    r = c.post(
        "/admin/orgs/llyb/certificate",
        data={"csrf_token": token, "password": "x", "p12": (io.BytesIO(data), "bureau.p12")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    return r.status_code, r.get_data(as_text=True)
