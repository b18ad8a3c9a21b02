"""A real ``wenshu serve`` for the tests: :mod:`scripts.harness`, which the benchmarks and the
crash harness own, with one difference for the tests that catch ``requests`` exceptions
(``tests/support/chaos.py``): a request that gets no answer raises
``requests.ConnectionError``."""

from __future__ import annotations

import requests

from scripts.harness import http
from scripts.harness import service as _service
from scripts.harness.account import Account, archived_ids, check_archive, database, open_numbers
from scripts.harness.inputs import DOCTYPES, ISSUER, NEEDS_APPROVAL, ORGS, one_page_input
from scripts.harness.service import MONITOR, free_port


class Service(_service.Service):
    """:class:`scripts.harness.service.Service`, raising ``requests`` exceptions."""

    def issue(self, doctype: str, org: str, timeout: float = 180) -> http.Response:
        try:
            return super().issue(doctype, org, timeout)
        except http.TransportError as exc:
            raise requests.ConnectionError(str(exc)) from exc

    def search(self, org: str, q: str, timeout: float = 60) -> http.Response:
        try:
            return super().search(org, q, timeout)
        except http.TransportError as exc:
            raise requests.ConnectionError(str(exc)) from exc


__all__ = [
    "DOCTYPES",
    "ISSUER",
    "MONITOR",
    "NEEDS_APPROVAL",
    "ORGS",
    "Account",
    "Service",
    "archived_ids",
    "check_archive",
    "database",
    "free_port",
    "one_page_input",
    "open_numbers",
]
