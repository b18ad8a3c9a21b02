"""schemathesis against /api/v1/openapi.json: every operation, as an auditor and as a clerk.

Schema-valid and schema-invalid requests alike must get no 5xx and a status, content type,
headers and body the spec describes. Generated path identifiers are random,
so each case is also sent with the real ids of a document and a case of the clerk's org, which
reaches the responses of existing objects. Operations that convert with LibreOffice get few
examples here; ``scripts/fuzz`` runs many more (WENSHU_FUZZ_EXAMPLES, _CONVERTING).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks

from service.workflows.accounts import add_org, add_user
from tests.support import sample
from tests.support.apps import make_app

EXAMPLES = int(os.environ.get("WENSHU_FUZZ_EXAMPLES", "20"))
EXAMPLES_CONVERTING = int(os.environ.get("WENSHU_FUZZ_EXAMPLES_CONVERTING", "3"))
#: operations that run LibreOffice for (some) valid inputs
CONVERTING = {
    ("POST", "/api/v1/documents"),
    ("POST", "/api/v1/documents/preview"),
    ("POST", "/api/v1/documents/{doc_id}/signed-copy"),
    ("GET", "/api/v1/audit/report"),
}
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]
COMMON = dict(
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)


class FuzzWorld:
    def __init__(self, tmp: Path, converter_dir: dict[str, Any]) -> None:
        self.app = make_app(tmp, converter_dir)
        ws = self.app.extensions["wenshu"]
        add_org(ws, code="tyyb", name="太原市医疗保障局", zihao="并医保发", region="太原市")
        self.tokens = {
            role: add_user(ws, name=f"f-{role}", role=role, org_code="llyb")
            for role in ("auditor", "clerk")
        }
        c = self.app.test_client()
        h = {"Authorization": f"Bearer {self.tokens['clerk']}"}
        r = c.post(
            "/api/v1/cases",
            json={"case_no": "FZ-001", "title": "模糊测试", "org": "llyb"},
            headers=h,
        )
        assert r.status_code == 201
        body = {"type": "notice", "org": "llyb", "data": sample("notice"), "case_no": "FZ-001"}
        r = c.post("/api/v1/documents", json=body, headers=h)
        assert r.status_code == 201, r.get_json()
        self.real = {"doc_id": r.get_json()["id"], "case_no": "FZ-001"}


@pytest.fixture(scope="module")
def fuzz_world(
    tmp_path_factory: pytest.TempPathFactory, converter_dir: dict[str, Any]
) -> Iterator[FuzzWorld]:
    w = FuzzWorld(tmp_path_factory.mktemp("fuzz"), converter_dir)
    yield w
    w.app.extensions["wenshu"].close()


def operations(world: FuzzWorld) -> list[Any]:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", world.app)
    return [result.ok() for result in schema.get_all_operations()]


def exercise(case: Any, world: FuzzWorld) -> None:
    for token in (world.tokens["auditor"], world.tokens["clerk"]):
        headers = {"Authorization": f"Bearer {token}"}
        # the spec declares bearer auth, so generated cases carry a random token: use ours
        case.headers = {**(case.headers or {}), **headers}
        case.call_and_validate(headers=headers, checks=CHECKS)
        params = case.path_parameters or {}
        if any(name in world.real for name in params):
            original = dict(params)
            params.update({k: v for k, v in world.real.items() if k in params})
            try:
                case.call_and_validate(headers=headers, checks=CHECKS)
            finally:
                params.clear()
                params.update(original)


def fuzz(operation: Any, world: FuzzWorld, examples: int) -> None:
    """Valid and invalid inputs for one operation. (schemathesis' pytest plugin is not used:
    it reads a pytest internal that pytest 9 no longer has.)"""
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=examples, **COMMON)
        def run(case: Any) -> None:
            exercise(case, world)

        run()


def test_every_operation_conforms(fuzz_world: FuzzWorld) -> None:
    ops = operations(fuzz_world)
    assert len(ops) >= 25  # the whole API, not an empty spec
    failures = []
    for op in ops:
        converting = (op.method.upper(), op.path) in CONVERTING
        try:
            fuzz(op, fuzz_world, EXAMPLES_CONVERTING if converting else EXAMPLES)
        except (Exception, BaseExceptionGroup) as exc:  # one report for all operations
            failures.append(f"{op.method.upper()} {op.path}: {exc}")
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/audit/export?org=%C3%93%0A%25m",  # a newline reached a response header
        "/api/v1/audit/events?after_seq=44177665458261262461325803520",  # beyond 64 bits
        "/api/v1/documents/{doc_id}/signed-copy?version=41107443003934208163840",
        "/api/v1/search?amount_min=-1",
    ],
)
def test_what_fuzzing_found_is_refused_with_422(fuzz_world: FuzzWorld, url: str) -> None:
    c = fuzz_world.app.test_client()
    r = c.get(
        url.format(**fuzz_world.real),
        headers={"Authorization": f"Bearer {fuzz_world.tokens['auditor']}"},
    )
    assert r.status_code == 422, r.get_data(as_text=True)[:300]
