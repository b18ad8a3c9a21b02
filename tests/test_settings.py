"""Settings: read once from WENSHU_* into frozen dataclasses; a bad value names its variable."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from service.settings import SettingsError, load_settings


def test_defaults_derive_from_the_data_folder_and_the_database() -> None:
    settings = load_settings(environ={"WENSHU_DATA": "/srv/wenshu"})
    assert settings.paths.archive == Path("/srv/wenshu/archive")
    assert settings.paths.converter == Path("/srv/wenshu/run/converter")
    assert settings.database_url == "sqlite:////srv/wenshu/wenshu.db"
    assert settings.search.backend == "whoosh" and settings.converter.separate is False
    on_pg = load_settings(environ={"DATABASE_URL": "postgresql+psycopg://u@h/db"})
    assert on_pg.search.backend == "postgresql"


def test_every_variable_is_read_and_overrides_win() -> None:
    environ = {
        "WENSHU_DATA": "/srv/a",
        "WENSHU_RUN": "/run/wenshu",
        "WENSHU_CONVERTER_POOL_SIZE": "3",
        "WENSHU_CONVERTER_SEPARATE": "1",
        "WENSHU_MAX_UPLOAD_BYTES": "1000",
        "WENSHU_COOKIE_SECURE": "true",
        "WENSHU_LOG_FORMAT": "text",
        "WENSHU_PORT": "8100",
        "WENSHU_WORKERS": "3",
        "WENSHU_RETENTION": "notice=永久",
        "WENSHU_OCR_ENGINE": "tesseract",
        "WENSHU_OCR_JOBS": "2",
    }
    settings = load_settings({"CONVERTER_POOL_SIZE": 1}, environ=environ)
    assert settings.paths.run == Path("/run/wenshu")
    assert settings.paths.converter == Path("/run/wenshu/converter")
    assert settings.converter.pool_size == 1 and settings.converter.separate is True
    assert settings.limits.max_upload_bytes == 1000 and settings.web.cookie_secure is True
    assert settings.web.log_format == "text" and settings.retention == {"notice": "Y"}
    assert (settings.server.port, settings.server.workers) == (8100, 3)
    assert (settings.integrity.ocr_engine, settings.integrity.ocr_jobs) == ("tesseract", 2)
    assert load_settings(environ={}).integrity.ocr_engine == "rapidocr"
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.limits.max_upload_bytes = 5  # type: ignore[misc]


def test_approval_overrides_the_types_rule() -> None:
    settings = load_settings(environ={"WENSHU_APPROVAL": "notice=no, inspection_record=yes"})
    assert settings.approval == {"notice": False, "inspection_record": True}
    assert load_settings(environ={}).approval == {}


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("WENSHU_PORT", "eighty"),
        ("WENSHU_CONVERTER_POOL_SIZE", "2.5"),
        ("WENSHU_CONVERSION_TIMEOUT", "soon"),
        ("WENSHU_COOKIE_SECURE", "perhaps"),
        ("WENSHU_SEARCH_BACKEND", "elastic"),
        ("WENSHU_LOG_FORMAT", "xml"),
        ("WENSHU_OCR_ENGINE", "paddle"),
        ("WENSHU_OCR_JOBS", "many"),
        ("WENSHU_RETENTION", "notice"),
        ("WENSHU_APPROVAL", "notice=perhaps"),
        ("WENSHU_APPROVAL", "notice"),
    ],
)
def test_a_bad_value_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings(environ={variable: value})
