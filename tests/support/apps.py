"""Apps and clients for tests: an app on a fresh data folder, a client speaking for one user,
fresh databases of both kinds, the wenshu command in-process, what a refused request must not
change."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, func, select

from archive.models import AuditEvent, Document, NumberReservation
from service import create_app
from service.ops.cli import initialise, wenshu
from service.wiring import Wenshu
from service.workflows.accounts import Principal, add_user, principal_for_token
from tests.support import APPROVAL_OFF


@contextmanager
def fresh_database(kind: str, tmp_path: Path) -> Iterator[str]:
    """A new, empty database of ``kind``; PostgreSQL ones are dropped afterwards.

    PostgreSQL comes from WENSHU_TEST_PG (an admin URL; scripts/test starts a local cluster
    and sets it). Without it the PostgreSQL variant is skipped, saying why.
    """
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'wenshu.db'}"
        return
    admin = os.environ.get("WENSHU_TEST_PG")
    if not admin:
        pytest.skip("PostgreSQL not configured: run scripts/test, or set WENSHU_TEST_PG")
    name = f"wenshu_test_{secrets.token_hex(6)}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        engine.dispose()


def make_app(tmp_path: Path, converter_dir: dict[str, Any], **extra: Any) -> Any:
    cfg = {
        "DATA_DIR": tmp_path / "data",
        "TESTING": True,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'wenshu.db'}",
        "APPROVAL": APPROVAL_OFF,
    }
    cfg.update(converter_dir)
    cfg.update(extra)
    app = create_app(cfg)
    initialise(app.extensions["wenshu"])
    return app


class Client:
    """A test client that speaks for one user, with the user's bearer token."""

    def __init__(self, app: Any, token: str | None) -> None:
        self.app, self.token, self.flask = app, token, app.test_client()

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def get(self, url: str, **kw: Any) -> Any:
        return self.flask.get(url, headers=self.headers(), **kw)

    def post(self, url: str, body: Any = None, **kw: Any) -> Any:
        """POST ``body`` as JSON; ``headers`` are sent beside the token."""
        return self.flask.post(
            url,
            data=json.dumps(body, ensure_ascii=False),
            content_type="application/json",
            headers={**self.headers(), **kw.pop("headers", {})},
            **kw,
        )

    def patch(self, url: str, body: Any = None, **kw: Any) -> Any:
        return self.flask.patch(
            url,
            data=json.dumps(body, ensure_ascii=False),
            content_type="application/json",
            headers={**self.headers(), **kw.pop("headers", {})},
            **kw,
        )


def issue_approved(drafter: Client, approver: Client, body: dict[str, Any]) -> Any:
    """Issue ``body`` (as ``POST /api/v1/documents`` takes it) the way a type that needs 签发
    goes: 拟稿 by ``drafter`` → 提交签发 → 签发 by ``approver`` → 编号发文 by ``drafter``.

    Returns the issue's response (201 and the document JSON, as ``POST /api/v1/documents``
    answered), or the first step's that failed. A notice's 成文日期 is its 签发 date: a
    ``date``/``print_date`` of another year than this one (the samples' 2021) is left out, since
    the 发文字号 is of this year and such a date is refused.
    """
    data = dict(body["data"])
    ws = drafter.app.extensions["wenshu"]
    year = str(ws.local_date(ws.now()).year)
    for key in ("date", "print_date"):
        if isinstance(data.get(key), str) and not data[key].startswith(year):
            del data[key]
    draft = {k: body[k] for k in ("type", "org", "case_no", "supersedes") if body.get(k)}
    r = drafter.post("/api/v1/drafts", {**draft, "data": data})
    if r.status_code != 201:
        return r
    url = f"/api/v1/drafts/{r.get_json()['id']}"
    for who, step in ((drafter, "submit"), (approver, "approve")):
        r = who.post(f"{url}/{step}", {})
        if r.status_code != 200:
            return r
    return drafter.post(f"{url}/issue", {})


def archive_counts(ws: Wenshu) -> tuple[int, int, int]:
    """Documents, numbers handed out and issue events: what a rejected request must not change."""
    with ws.db.read() as s:
        return (
            s.scalar(select(func.count()).select_from(Document)) or 0,
            s.scalar(select(func.count()).select_from(NumberReservation)) or 0,
            s.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action.like("document.issue%"))
            )
            or 0,
        )


def set_setting(ws: Wenshu, section: str, **values: Any) -> None:
    """Change settings of a running ``ws`` for a test, e.g. ``set_setting(ws, "limits",
    max_upload_bytes=2000)`` (settings are frozen: the section is replaced)."""
    ws.settings = replace(
        ws.settings, **{section: replace(getattr(ws.settings, section), **values)}
    )


class WenshuCli:
    """The ``wenshu`` command run in-process on a test's own ``Wenshu``."""

    def __init__(self, ws: Wenshu) -> None:
        self.ws = ws

    def invoke(self, args: Sequence[str], input: str | None = None) -> Result:
        return CliRunner().invoke(wenshu, list(args), obj=self.ws, input=input)


def person(
    ws: Wenshu, name: str, role: str, org: str = "llyb", *, full_name: str = ""
) -> Principal:
    """A new user of ``org``, as the use cases see it (resolved from its token)."""
    token = add_user(ws, name=name, role=role, org_code=org, full_name=full_name)
    with ws.db.read() as s:
        who = principal_for_token(s, token, ws.now())
    assert who is not None
    return who
