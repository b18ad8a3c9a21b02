"""Settings: every ``WENSHU_*`` variable (and ``DATABASE_URL``) read in one place, into frozen
dataclasses.

Every entry point — gunicorn workers, the ``wenshu`` command, ``wenshu serve``, tests — calls
:func:`load_settings`, so a command run beside the service sees the same database, archive and
converter pool. A value that does not parse stops the start with a message naming its variable
(:class:`SettingsError`), never a traceback from deep inside.

Tests (and ``create_app(test_config)``) pass overrides by the names in :data:`OVERRIDES`
(``DATA_DIR``, ``DATABASE_URL``, ``CONVERTER_DIR`` …); what derives from them (the archive
folder from the data folder, the search backend from the database) derives from the override.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.errors import ValidationError
from archive.retention import parse_setting as parse_retention

SEARCH_BACKENDS = ("whoosh", "postgresql")
OCR_ENGINES = ("rapidocr", "tesseract")
"""As in ``service.documents.scans.recognise.ENGINES`` (settings sit below documents)."""
LOG_FORMATS = ("json", "text")


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the variable and what it must be."""


@dataclass(frozen=True)
class Paths:
    data: Path
    """``WENSHU_DATA`` (default ``./var``): the database (SQLite), archive, index, keys, run."""
    archive: Path
    """The blob store: ``<data>/archive``."""
    index: Path
    """The Whoosh index: ``<data>/index``."""
    keys: Path
    """``WENSHU_KEYS``: signing keys, apart from the archive so a copy of it never carries them."""
    run: Path
    """``WENSHU_RUN``: locks, the converter pool's files, metrics; local to each server."""
    converter: Path
    """``WENSHU_CONVERTER_DIR``: the LibreOffice pool's run directory (``<run>/converter``)."""


@dataclass(frozen=True)
class ConverterSettings:
    pool_size: int
    """``WENSHU_CONVERTER_POOL_SIZE``: LibreOffice instances (default: the cores)."""
    separate: bool
    """``WENSHU_CONVERTER_SEPARATE``: 1 when ``wenshu converter`` runs the LibreOffice pool in a
    process of its own (as its own user: ``scripts/run`` as root, the systemd units of
    docs/deployment.md); ``wenshu serve`` then waits for it instead of starting one."""
    max_conversions: int
    """``WENSHU_CONVERTER_MAX_CONVERSIONS``: an instance restarts after this many."""
    conversion_timeout: float
    """``WENSHU_CONVERSION_TIMEOUT``: seconds one conversion may take."""
    acquire_timeout: float
    """``WENSHU_CONVERTER_ACQUIRE_TIMEOUT``: seconds to wait for a free instance (then 503)."""


@dataclass(frozen=True)
class SearchSettings:
    backend: str
    """``WENSHU_SEARCH_BACKEND``: ``whoosh`` (a folder) or ``postgresql`` (a table of the
    database, shared by every server; the default on a PostgreSQL ``DATABASE_URL``)."""
    catch_up_seconds: float
    """``WENSHU_SEARCH_CATCH_UP_SECONDS``: how long a search waits for documents issued just
    before it to become searchable."""


@dataclass(frozen=True)
class IntegritySettings:
    fixity_interval: float
    """``WENSHU_FIXITY_INTERVAL_SECONDS``: fixity checks in ``wenshu serve`` (0: off)."""
    checkpoint_interval: float
    """``WENSHU_CHECKPOINT_INTERVAL_SECONDS``: signed checkpoints of the chain (0: off)."""
    reservation_lease: int
    """``WENSHU_RESERVATION_LEASE_SECONDS``: an older number reservation belongs to a request
    that died, and is reused."""
    ocr_lease: int
    """``WENSHU_OCR_LEASE_SECONDS``: a recogniser holding a scan longer died; another takes it."""
    ocr_engine: str = "rapidocr"
    """``WENSHU_OCR_ENGINE``: ``rapidocr`` (PP-OCRv4, default) or ``tesseract`` (``chi_sim``);
    figures of both in docs/signed-copy.md."""
    ocr_jobs: int = max(1, (os.cpu_count() or 2) // 2)
    """``WENSHU_OCR_JOBS``: pages recognised at a time (and ONNX Runtime threads); default half
    the cores, so issuing keeps the rest (the recogniser also runs at a lower CPU priority)."""
    fixity_cycle_days: float = 30.0
    """``WENSHU_FIXITY_CYCLE_DAYS``: the recurring fixity check works through the whole archive
    once in this many days, a slice per run (every ``WENSHU_FIXITY_INTERVAL_SECONDS``)."""
    verify_workers: int = os.cpu_count() or 1
    """``WENSHU_VERIFY_WORKERS``: processes that hash blobs and validate PDF signatures for
    ``wenshu verify`` and the fixity check; default every core (1: in the process itself)."""


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int
    """``WENSHU_MAX_BODY_BYTES``: a JSON request body (2 MiB)."""
    max_upload_bytes: int
    """``WENSHU_MAX_UPLOAD_BYTES``: a scan of a hand-signed original (50 MiB)."""
    max_attachment_bytes: int = 20 * 1024 * 1024
    """``WENSHU_MAX_ATTACHMENT_BYTES``: a file uploaded to attach to a notice (20 MiB)."""
    max_attachment_pages: int = 100
    """``WENSHU_MAX_ATTACHMENT_PAGES``: the pages of one such file (100)."""
    max_seal_bytes: int = 2 * 1024 * 1024
    """``WENSHU_MAX_SEAL_BYTES``: an org's seal image, a PNG (2 MiB)."""


@dataclass(frozen=True)
class WebSettings:
    secret_key: str | None
    """``WENSHU_SECRET_KEY``: signs login sessions; default a per-installation key kept in the
    data folder, so every worker signs alike."""
    cookie_secure: bool
    """``WENSHU_COOKIE_SECURE``: send the session cookie over HTTPS only (behind TLS)."""
    log_format: str
    """``WENSHU_LOG_FORMAT``: ``json`` (one object per line) or ``text`` (a terminal)."""


@dataclass(frozen=True)
class AccountSettings:
    password_max_age_days: int
    """``WENSHU_PASSWORD_MAX_AGE_DAYS``: a web password older than this must be changed at the
    next login (90; 0: never), the periodic change 等保 2.0 asks for."""
    token_max_age_days: int
    """``WENSHU_TOKEN_MAX_AGE_DAYS``: an API token expires this long after it was made (90;
    0: never); ``wenshu user-token NAME`` makes a new one."""
    session_idle_minutes: int
    """``WENSHU_SESSION_IDLE_MINUTES``: a web login unused this long ends (30)."""
    trusted_proxies: int
    """``WENSHU_TRUSTED_PROXIES``: how many reverse proxies (TLS) stand in front and set
    ``X-Forwarded-For``/``-Proto`` (0). With 1 behind nginx the client's own address is what
    login throttling counts, and the session cookie is ``Secure`` when nginx speaks HTTPS."""
    trust_roots: Path | None
    """``WENSHU_TRUST_ROOTS``: a PEM file of the CA certificates an uploaded signing certificate
    must chain to (none: only orgs marked as test take an uploaded certificate)."""


@dataclass(frozen=True)
class ServerSettings:
    host: str
    """``WENSHU_HOST`` (127.0.0.1)."""
    port: int
    """``WENSHU_PORT`` (8000)."""
    workers: int
    """``WENSHU_WORKERS``: gunicorn workers (default 2 × cores, at least 2)."""
    threads: int
    """``WENSHU_THREADS``: threads per worker (8), so reads go on while others wait on
    LibreOffice."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    """``DATABASE_URL`` (default SQLite in the data folder)."""
    timezone: str
    """``WENSHU_TIMEZONE``: dates on paper and in lists (Asia/Shanghai)."""
    retention: Mapping[str, str]
    """``WENSHU_RETENTION`` (``notice=D30,inspection_report=永久``): per-type overrides of the
    保管期限 each type declares (``DocType.retention_in``)."""
    approval: Mapping[str, bool]
    """``WENSHU_APPROVAL`` (``notice=yes,inspection_report=no``): per-type overrides of whether
    a document needs 签发 by an approver before it is numbered (``DocType.needs_approval_in``)."""
    paths: Paths
    converter: ConverterSettings
    search: SearchSettings
    integrity: IntegritySettings
    limits: Limits
    web: WebSettings
    accounts: AccountSettings
    server: ServerSettings
    testing: bool = False
    """Set by tests (Flask's ``TESTING``)."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Overrides that are Flask's own settings, passed to the app as given."""


def _int(text: str) -> int:
    return int(text.strip())


def _count(text: str) -> int:
    value = int(text.strip())
    if value < 0:
        raise ValueError(text)
    return value


def _positive(text: str) -> int:
    value = int(text.strip())
    if value < 1:
        raise ValueError(text)
    return value


def _float(text: str) -> float:
    return float(text.strip())


def _positive_float(text: str) -> float:
    value = float(text.strip())
    if not value > 0:
        raise ValueError(text)
    return value


def _positive_int(text: str) -> int:
    value = int(text.strip())
    if value < 1:
        raise ValueError(text)
    return value


def parse_approval(text: str) -> dict[str, bool]:
    """``notice=yes,inspection_report=no`` → ``{"notice": True, "inspection_report": False}``.

    Which types exist is the registry's to say (a layer above); a code no type has is ignored
    there like a retention override of no type."""
    out: dict[str, bool] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        doctype, sep, value = item.partition("=")
        if not sep or not doctype.strip() or not value.strip():
            raise ValueError(item)
        out[doctype.strip()] = _flag(value)
    return out


def _flag(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("", "0", "false", "no", "off"):
        return False
    raise ValueError(value)


#: override name (tests, ``create_app(test_config)``) → environment variable
OVERRIDES = {
    "DATA_DIR": "WENSHU_DATA",
    "DATABASE_URL": "DATABASE_URL",
    "KEYS_DIR": "WENSHU_KEYS",
    "RUN_DIR": "WENSHU_RUN",
    "CONVERTER_DIR": "WENSHU_CONVERTER_DIR",
    "CONVERTER_POOL_SIZE": "WENSHU_CONVERTER_POOL_SIZE",
    "CONVERTER_SEPARATE": "WENSHU_CONVERTER_SEPARATE",
    "CONVERTER_MAX_CONVERSIONS": "WENSHU_CONVERTER_MAX_CONVERSIONS",
    "CONVERSION_TIMEOUT": "WENSHU_CONVERSION_TIMEOUT",
    "CONVERTER_ACQUIRE_TIMEOUT": "WENSHU_CONVERTER_ACQUIRE_TIMEOUT",
    "SEARCH_BACKEND": "WENSHU_SEARCH_BACKEND",
    "SEARCH_CATCH_UP_SECONDS": "WENSHU_SEARCH_CATCH_UP_SECONDS",
    "FIXITY_INTERVAL_SECONDS": "WENSHU_FIXITY_INTERVAL_SECONDS",
    "CHECKPOINT_INTERVAL_SECONDS": "WENSHU_CHECKPOINT_INTERVAL_SECONDS",
    "RESERVATION_LEASE_SECONDS": "WENSHU_RESERVATION_LEASE_SECONDS",
    "OCR_LEASE_SECONDS": "WENSHU_OCR_LEASE_SECONDS",
    "OCR_ENGINE": "WENSHU_OCR_ENGINE",
    "OCR_JOBS": "WENSHU_OCR_JOBS",
    "MAX_CONTENT_LENGTH": "WENSHU_MAX_BODY_BYTES",
    "MAX_UPLOAD_BYTES": "WENSHU_MAX_UPLOAD_BYTES",
    "RETENTION": "WENSHU_RETENTION",
    "APPROVAL": "WENSHU_APPROVAL",
    "TIMEZONE": "WENSHU_TIMEZONE",
    "SECRET_KEY": "WENSHU_SECRET_KEY",
    "COOKIE_SECURE": "WENSHU_COOKIE_SECURE",
    "LOG_FORMAT": "WENSHU_LOG_FORMAT",
    "PASSWORD_MAX_AGE_DAYS": "WENSHU_PASSWORD_MAX_AGE_DAYS",
    "TOKEN_MAX_AGE_DAYS": "WENSHU_TOKEN_MAX_AGE_DAYS",
    "SESSION_IDLE_MINUTES": "WENSHU_SESSION_IDLE_MINUTES",
    "TRUSTED_PROXIES": "WENSHU_TRUSTED_PROXIES",
    "TRUST_ROOTS": "WENSHU_TRUST_ROOTS",
}


class _Reader:
    """Values by variable name: an override first, then the environment, then the default."""

    def __init__(self, environ: Mapping[str, str], overrides: Mapping[str, Any]) -> None:
        self.environ = environ
        self.given = {OVERRIDES[k]: v for k, v in overrides.items() if k in OVERRIDES}

    def raw(self, var: str) -> Any:
        if var in self.given:
            return self.given[var]
        return self.environ.get(var)

    def get(self, var: str, parse: Callable[[str], Any], default: Any, what: str) -> Any:
        value = self.raw(var)
        if value is None or value == "":
            return default
        if not isinstance(value, str):
            return value  # an override given as a value already
        try:
            return parse(value)
        except (ValueError, ValidationError) as exc:
            detail = exc.message if isinstance(exc, ValidationError) else what
            raise SettingsError(f"{var} 的值 {value!r} 无效：{detail}") from exc

    def path(self, var: str, default: Path) -> Path:
        return self.optional_path(var) or default

    def optional_path(self, var: str) -> Path | None:
        value = self.raw(var)
        return Path(value).resolve() if value not in (None, "") else None

    def choice(self, var: str, choices: tuple[str, ...], default: str) -> str:
        value = self.raw(var)
        value = default if value in (None, "") else str(value).strip()
        if value not in choices:
            raise SettingsError(f"{var} 只能是 {' 或 '.join(choices)}：{value!r}")
        return value


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """The settings from ``environ`` (default ``os.environ``), with ``overrides`` on top."""
    overrides = dict(overrides or {})
    env = _Reader(os.environ if environ is None else environ, overrides)
    cores = os.cpu_count() or 2
    data = env.path("WENSHU_DATA", Path("var").resolve())
    run = env.path("WENSHU_RUN", data / "run")
    paths = Paths(
        data=data,
        archive=data / "archive",
        index=data / "index",
        keys=env.path("WENSHU_KEYS", data / "keys"),
        run=run,
        converter=env.path("WENSHU_CONVERTER_DIR", run / "converter"),
    )
    database_url = str(env.raw("DATABASE_URL") or f"sqlite:///{data / 'wenshu.db'}")
    on_postgresql = database_url.startswith("postgresql")
    whole = "应为整数"
    number = "应为数字（秒）"
    days = "应为天数（0 表示不限）"
    return Settings(
        database_url=database_url,
        timezone=env.get("WENSHU_TIMEZONE", str.strip, "Asia/Shanghai", "应为时区名"),
        retention=env.get("WENSHU_RETENTION", parse_retention, {}, "应为 类型=期限,…"),
        approval=env.get("WENSHU_APPROVAL", parse_approval, {}, "应为 类型=yes|no,…"),
        paths=paths,
        converter=ConverterSettings(
            pool_size=env.get("WENSHU_CONVERTER_POOL_SIZE", _int, cores, whole),
            separate=env.get("WENSHU_CONVERTER_SEPARATE", _flag, False, "应为 1 或 0"),
            max_conversions=env.get("WENSHU_CONVERTER_MAX_CONVERSIONS", _int, 200, whole),
            conversion_timeout=env.get("WENSHU_CONVERSION_TIMEOUT", _float, 30.0, number),
            acquire_timeout=env.get("WENSHU_CONVERTER_ACQUIRE_TIMEOUT", _float, 20.0, number),
        ),
        search=SearchSettings(
            backend=env.choice(
                "WENSHU_SEARCH_BACKEND", SEARCH_BACKENDS, SEARCH_BACKENDS[on_postgresql]
            ),
            catch_up_seconds=env.get("WENSHU_SEARCH_CATCH_UP_SECONDS", _float, 2.0, number),
        ),
        integrity=IntegritySettings(
            fixity_interval=env.get("WENSHU_FIXITY_INTERVAL_SECONDS", _float, 86400.0, number),
            checkpoint_interval=env.get(
                "WENSHU_CHECKPOINT_INTERVAL_SECONDS", _float, 3600.0, number
            ),
            reservation_lease=env.get("WENSHU_RESERVATION_LEASE_SECONDS", _int, 300, whole),
            ocr_lease=env.get("WENSHU_OCR_LEASE_SECONDS", _int, 900, whole),
            ocr_engine=env.choice("WENSHU_OCR_ENGINE", OCR_ENGINES, OCR_ENGINES[0]),
            ocr_jobs=env.get("WENSHU_OCR_JOBS", _int, max(1, cores // 2), whole),
            fixity_cycle_days=env.get(
                "WENSHU_FIXITY_CYCLE_DAYS", _positive_float, 30.0, "应为大于 0 的天数"
            ),
            verify_workers=env.get(
                "WENSHU_VERIFY_WORKERS", _positive_int, cores, "应为正整数（进程数）"
            ),
        ),
        limits=Limits(
            max_body_bytes=env.get("WENSHU_MAX_BODY_BYTES", _int, 2 * 1024 * 1024, whole),
            max_upload_bytes=env.get("WENSHU_MAX_UPLOAD_BYTES", _int, 50 * 1024 * 1024, whole),
            max_attachment_bytes=env.get(
                "WENSHU_MAX_ATTACHMENT_BYTES", _int, 20 * 1024 * 1024, whole
            ),
            max_attachment_pages=env.get("WENSHU_MAX_ATTACHMENT_PAGES", _int, 100, whole),
            max_seal_bytes=env.get("WENSHU_MAX_SEAL_BYTES", _int, 2 * 1024 * 1024, whole),
        ),
        web=WebSettings(
            secret_key=env.raw("WENSHU_SECRET_KEY") or None,
            cookie_secure=env.get("WENSHU_COOKIE_SECURE", _flag, False, "应为 1 或 0"),
            log_format=env.choice("WENSHU_LOG_FORMAT", LOG_FORMATS, "json"),
        ),
        accounts=AccountSettings(
            password_max_age_days=env.get("WENSHU_PASSWORD_MAX_AGE_DAYS", _count, 90, days),
            token_max_age_days=env.get("WENSHU_TOKEN_MAX_AGE_DAYS", _count, 90, days),
            session_idle_minutes=env.get(
                "WENSHU_SESSION_IDLE_MINUTES", _positive, 30, "应为正整数（分钟）"
            ),
            trusted_proxies=env.get("WENSHU_TRUSTED_PROXIES", _count, 0, "应为 0 或正整数"),
            trust_roots=env.optional_path("WENSHU_TRUST_ROOTS"),
        ),
        server=ServerSettings(
            host=env.get("WENSHU_HOST", str.strip, "127.0.0.1", "应为地址"),
            port=env.get("WENSHU_PORT", _int, 8000, whole),
            workers=env.get("WENSHU_WORKERS", _int, max(2, cores * 2), whole),
            threads=env.get("WENSHU_THREADS", _int, 8, whole),
        ),
        testing=bool(overrides.pop("TESTING", False)),
        extra={k: v for k, v in overrides.items() if k not in OVERRIDES},
    )
