"""What the benchmarks and the crash harness drive a real ``wenshu serve`` with, using only what
the plain ``scripts/run`` install has (the standard library, the service's own packages).

- :mod:`scripts.harness.inputs` — the one-page inputs of the four types, the two orgs;
- :mod:`scripts.harness.http` — a small HTTP client on ``http.client``;
- :mod:`scripts.harness.service` — start, stop and find the processes of one ``wenshu serve``;
- :mod:`scripts.harness.account` — check that the archive is whole after a run;
- :mod:`scripts.harness.load` — N clients issuing, searching and reading for a fixed time.

The tests import these too (``tests/support/harness.py``, ``tests/system/test_load.py``).
"""
