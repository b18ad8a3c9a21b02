"""Shared fixtures: one real LibreOffice pool for the session, a fresh data dir per app.

Helpers the fixtures use live in ``tests/support`` (importable by tests too).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.documents.convert.instance import FONTS_CONF, PoolSettings
from service.documents.convert.pool import ConverterPool
from service.wiring import Wenshu
from service.workflows.accounts import add_org, add_user
from tests.support import BACKENDS
from tests.support.apps import Client, fresh_database, make_app


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Run the test once on SQLite and once on PostgreSQL."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="session")
def converter_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A real pool of two warm LibreOffice instances shared by every test of the session."""
    run_dir = tmp_path_factory.mktemp("converter")
    settings = PoolSettings(
        run_dir=run_dir,
        size=2,
        fontconfig_file=FONTS_CONF if FONTS_CONF.exists() else None,
    )
    pool = ConverterPool(settings)
    pool.start()
    yield {"CONVERTER_DIR": run_dir, "CONVERTER_POOL_SIZE": 2}
    pool.stop()


@pytest.fixture
def app(tmp_path: Path, converter_dir: dict[str, Any]) -> Any:
    app = make_app(tmp_path, converter_dir)
    yield app
    app.extensions["wenshu"].close()


@pytest.fixture
def ws(app: Any) -> Wenshu:
    return app.extensions["wenshu"]  # type: ignore[no-any-return]


@pytest.fixture
def users(app: Any, ws: Wenshu) -> dict[str, Client]:
    """One client per role in the demo org (and a second approver), and a clerk, an approver
    and an auditor of a second org."""
    add_org(ws, code="tyyb", name="太原市医疗保障局", zihao="并医保发", region="太原市")
    out = {
        role: Client(app, add_user(ws, name=f"u-{role}", role=role, org_code="llyb"))
        for role in (
            "clerk",
            "inspector",
            "approver",
            "auditor",
            "sysadmin",
            "secadmin",
            "auditadmin",
        )
    }
    out["approver2"] = Client(  # a second 签发人: approvals are by someone other than the drafter
        app, add_user(ws, name="u-approver2", role="approver", org_code="llyb")
    )
    out["other_clerk"] = Client(
        app, add_user(ws, name="u-other-clerk", role="clerk", org_code="tyyb")
    )
    out["other_approver"] = Client(
        app, add_user(ws, name="u-other-approver", role="approver", org_code="tyyb")
    )
    out["other_auditor"] = Client(
        app, add_user(ws, name="u-other-auditor", role="auditor", org_code="tyyb")
    )
    out["anonymous"] = Client(app, None)
    return out
