"""Search in PostgreSQL, through the service and two servers: what holds only there -- a table shared by every app server, its writer
lock, rebuilds swapped in whole, very long documents, and the service end to end on it. (The
relevance set and the index semantics run on both backends in test_search_relevance.py and
test_search_index.py.)"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import text

from archive.search.postgres.backend import PgSearchIndex
from service.workflows.accounts import add_user
from tests.support import sample
from tests.support.apps import Client, fresh_database, make_app
from tests.support.server import two_servers


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    with fresh_database("postgresql", tmp_path) as url:
        yield url


def test_the_service_on_postgresql_searches_the_shared_table(
    pg_url: str, tmp_path: Path, converter_dir: dict[str, Any]
) -> None:
    app = make_app(tmp_path, converter_dir, DATABASE_URL=pg_url)
    ws = app.extensions["wenshu"]
    assert isinstance(ws.index, PgSearchIndex)
    clerk = Client(app, add_user(ws, name="pg-clerk", role="clerk", org_code="llyb"))
    from service.workflows.accounts import add_org

    add_org(ws, code="tyyb", name="太原市医疗保障局", zihao="并医保发", region="太原市")
    stranger = Client(app, add_user(ws, name="ty-clerk", role="clerk", org_code="tyyb"))
    data = copy.deepcopy(sample("notice"))
    data["body"] = [{"text": "请于4号楼报到。"}]
    four = clerk.post("/api/v1/documents", {"type": "notice", "org": "llyb", "data": data})
    data["body"] = [{"text": "请于44号楼报到。"}]
    forty_four = clerk.post("/api/v1/documents", {"type": "notice", "org": "llyb", "data": data})
    assert four.status_code == forty_four.status_code == 201
    four_id, forty_four_id = four.get_json()["id"], forty_four.get_json()["id"]

    result = clerk.get("/api/v1/search?q=4号楼").get_json()  # searchable at once
    assert [h["id"] for h in result["hits"]] == [four_id]
    assert result["facets"]["org"] == {"llyb": 1}
    assert "<mark>4号楼</mark>" in result["hits"][0]["snippet"]  # printed without a gap now
    hit = clerk.get("/api/v1/search?q=" + four.get_json()["wenhao"]).get_json()["hits"]
    assert [h["id"] for h in hit] == [four_id]
    assert stranger.get("/api/v1/search?q=4号楼").get_json()["total"] == 0
    with ws.db.read() as s:
        assert s.scalar(text("SELECT count(*) FROM index_queue WHERE done_at IS NULL")) == 0

    assert ws.indexer.rebuild() == 2
    hits = clerk.get("/api/v1/search?q=44号楼").get_json()["hits"]
    assert [h["id"] for h in hits] == [forty_four_id]
    ws.close()


def test_two_servers_search_what_either_issued(pg_url: str, tmp_path: Path) -> None:
    """Two `wenshu serve` on one PostgreSQL: a document issued on one is found at once on the
    other, from the shared table (no Whoosh folder is written)."""
    with two_servers(pg_url, tmp_path) as (_env, token, servers):
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        data = sample("notice")
        data["title"] = "关于开展甲乙丙丁专项检查的通知"
        payload = json.dumps({"type": "notice", "org": "llyb", "data": data}, ensure_ascii=False)
        issued = requests.post(
            servers[0] + "/api/v1/documents",
            data=payload.encode(),
            headers=headers,
            timeout=180,
        )
        assert issued.status_code == 201, issued.text
        # The search drains first, waiting up to 2 s for server 0's drain of this document;
        # on a machine busy enough for that drain to take longer, the next search finds it.
        deadline = time.monotonic() + 60
        while True:
            answer = requests.get(
                servers[1] + "/api/v1/search",
                params={"q": "甲乙丙丁"},
                headers=headers,
                timeout=60,
            ).json()
            if answer["hits"] or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert [h["id"] for h in answer["hits"]] == [issued.json()["id"]]
        index_dir = tmp_path / "data" / "index"
        assert not index_dir.exists() or not any(index_dir.iterdir())
