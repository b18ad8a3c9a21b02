"""The per-app ``Wenshu`` object, reachable from views."""

from __future__ import annotations

from flask import current_app

from service.wiring import Wenshu


def wenshu() -> Wenshu:
    return current_app.extensions["wenshu"]  # type: ignore[no-any-return]
