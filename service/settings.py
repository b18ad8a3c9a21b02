"""Configuration: defaults in one place, overridable by ``WENSHU_*`` environment variables.

Every entry point (gunicorn workers, the ``wenshu`` command, tests) reads the same settings, so a
command run beside the service sees the same database, archive and converter pool.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from archive.retention import parse_setting as parse_retention

#: Retention (保管期限) per document type as it appears in the 档号: Y 永久, D30 定期30年, D10 定期10年.
#: Each type declares its default in its module (``service/doctypes/``, a layer above this one,
#: so nothing here names a type); ``service/wiring.py`` fills this table from the registry, and
#: ``WENSHU_RETENTION`` overrides it per type.
DEFAULT_RETENTION: dict[str, str] = {}


def _env(name: str, default: Any) -> Any:
    return os.environ.get(f"WENSHU_{name}", default)


def load_config(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the configuration dict: defaults, then environment, then ``overrides`` (tests)."""
    overrides = dict(overrides or {})
    data_dir = Path(overrides.pop("DATA_DIR", None) or _env("DATA", "var")).resolve()
    cfg: dict[str, Any] = {
        "DATA_DIR": data_dir,
        "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{data_dir / 'wenshu.db'}",
        "ARCHIVE_DIR": data_dir / "archive",
        "INDEX_DIR": data_dir / "index",
        # Signing keys live apart from the archive folder so a copy of the archive never carries them.
        "KEYS_DIR": Path(_env("KEYS", data_dir / "keys")).resolve(),
        "RUN_DIR": Path(_env("RUN", data_dir / "run")).resolve(),
        "CONVERTER_POOL_SIZE": int(_env("CONVERTER_POOL_SIZE", os.cpu_count() or 2)),
        "CONVERTER_BASE_PORT": int(_env("CONVERTER_BASE_PORT", 0)),  # 0: free ports chosen at start
        "CONVERTER_MAX_CONVERSIONS": int(_env("CONVERTER_MAX_CONVERSIONS", 200)),
        "CONVERSION_TIMEOUT": float(_env("CONVERSION_TIMEOUT", 30)),
        "CONVERTER_ACQUIRE_TIMEOUT": float(_env("CONVERTER_ACQUIRE_TIMEOUT", 20)),
        # A reservation older than this belongs to a request that died; it is reused.
        "RESERVATION_LEASE_SECONDS": int(_env("RESERVATION_LEASE_SECONDS", 300)),
        # WENSHU_RETENTION="notice=D30,inspection_report=永久" overrides per type (Y/D30/D10).
        "RETENTION": {**DEFAULT_RETENTION, **parse_retention(_env("RETENTION", ""))},
        # Recurring integrity upkeep in `wenshu serve` (seconds; 0 turns it off).
        "FIXITY_INTERVAL_SECONDS": float(_env("FIXITY_INTERVAL_SECONDS", 86400)),
        "CHECKPOINT_INTERVAL_SECONDS": float(_env("CHECKPOINT_INTERVAL_SECONDS", 3600)),
        "MAX_CONTENT_LENGTH": int(_env("MAX_BODY_BYTES", 2 * 1024 * 1024)),
        # A scan of a hand-signed original (POST …/signed-copy) may be larger than JSON bodies.
        "MAX_UPLOAD_BYTES": int(_env("MAX_UPLOAD_BYTES", 50 * 1024 * 1024)),
        # Seconds a recogniser may hold a scan before another one takes it over (it died).
        "OCR_LEASE_SECONDS": int(_env("OCR_LEASE_SECONDS", 900)),
        # How long a search waits for documents issued just before it to become searchable.
        "SEARCH_CATCH_UP_SECONDS": float(_env("SEARCH_CATCH_UP_SECONDS", 2.0)),
        "TIMEZONE": _env("TIMEZONE", "Asia/Shanghai"),
        # "json": one JSON object per log line (service/logs.py); "text" for a terminal.
        "LOG_FORMAT": _env("LOG_FORMAT", "json"),
        "SECRET_KEY": _env("SECRET_KEY", None),
        # flask-smorest / OpenAPI
        "API_TITLE": "Wenshu 文书",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": "/api/v1/static/swagger-ui/",
        "JSON_AS_ASCII": False,
    }
    cfg.update(overrides)
    # Full-text search: "whoosh" (a folder under WENSHU_DATA) or "postgresql" (a table in the
    # database, shared by every app server); on a PostgreSQL DATABASE_URL the default is the
    # latter (docs/scale-out.md).
    on_postgresql = str(cfg["DATABASE_URL"]).startswith("postgresql")
    cfg.setdefault(
        "SEARCH_BACKEND", _env("SEARCH_BACKEND", "postgresql" if on_postgresql else "whoosh")
    )
    if cfg["SEARCH_BACKEND"] not in ("whoosh", "postgresql"):
        raise ValueError(
            f"WENSHU_SEARCH_BACKEND 只能是 whoosh 或 postgresql：{cfg['SEARCH_BACKEND']!r}"
        )
    cfg.setdefault("CONVERTER_DIR", Path(_env("CONVERTER_DIR", cfg["RUN_DIR"] / "converter")))
    for key in ("ARCHIVE_DIR", "INDEX_DIR", "KEYS_DIR", "RUN_DIR", "DATA_DIR", "CONVERTER_DIR"):
        cfg[key] = Path(cfg[key])
    return cfg
