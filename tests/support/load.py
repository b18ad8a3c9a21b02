"""The load driver of ``scripts/bench_load`` (:mod:`scripts.harness.load`), for the short run
in ``tests/system/test_load.py``."""

from __future__ import annotations

from scripts.harness.load import LoadReport, bare_conversions, drive, run

__all__ = ["LoadReport", "bare_conversions", "drive", "run"]
