"""Loading the master key (ACCEPTANCE P6): from the environment or a file; a key
file is generated only in dev mode; errors never quote a key."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from app.config import Settings
from app.security import master
from app.security.crypto import KeyConfigurationError, MasterKey
from app.security.master import load_master_key, read_key_file, write_key_file

KEY = MasterKey(bytes(range(32)))


def settings(**values: object) -> Settings:
    base: dict[str, object] = {
        "database_url": "sqlite:///unused",
        "mode": "production",
        "master_key": None,
        "master_key_file": None,
    }
    base.update(values)
    return Settings(**base)  # type: ignore[arg-type]


def test_key_from_the_environment_setting() -> None:
    assert load_master_key(settings(master_key=KEY.to_text())) == KEY


def test_environment_key_wins_over_file(tmp_path: Path) -> None:
    path = tmp_path / "other.key"
    write_key_file(path, MasterKey.generate())
    assert load_master_key(settings(master_key=KEY.to_text(), master_key_file=path)) == KEY


def test_key_from_a_file_with_whitespace(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    path.write_text(f"\n  {KEY.to_text()}  \n", encoding="ascii")
    assert load_master_key(settings(master_key_file=path)) == KEY


def test_production_without_key_refuses_and_generates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    default = tmp_path / "var" / "master.key"
    monkeypatch.setattr(master, "DEV_KEY_FILE", default)
    with pytest.raises(KeyConfigurationError, match="ISU_MASTER_KEY") as caught:
        load_master_key(settings())
    assert "Huvudnyckel saknas" in str(caught.value)  # Swedish with English alongside
    assert not default.exists()


def test_production_with_missing_file_refuses_and_generates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    with pytest.raises(KeyConfigurationError, match="cannot be read"):
        load_master_key(settings(master_key_file=path))
    assert not path.exists()


def test_dev_mode_creates_the_default_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    default = tmp_path / "var" / "master.key"
    monkeypatch.setattr(master, "DEV_KEY_FILE", default)
    caplog.set_level(logging.WARNING, logger="isu.keys")
    first = load_master_key(settings(mode="dev"))
    assert default.stat().st_mode & 0o777 == 0o600
    assert [r.getMessage() for r in caplog.records] == ["dev_master_key_created"]
    assert first.to_text() not in caplog.text
    assert load_master_key(settings(mode="dev")) == first
    assert len(caplog.records) == 1


def test_dev_mode_creates_the_configured_file(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "dev.key"
    key = load_master_key(settings(mode="dev", master_key_file=path))
    assert read_key_file(path) == key


@pytest.mark.parametrize(
    "text",
    ["", "not base64 at all!", "c2hvcnQ=", KEY.to_text() + "QUFB"],
    ids=["empty", "not-base64", "too-short", "too-long"],
)
def test_malformed_key_text_is_refused_without_quoting_it(tmp_path: Path, text: str) -> None:
    with pytest.raises(KeyConfigurationError) as caught:
        load_master_key(settings(master_key=text or " "))
    if text.strip():
        assert text not in str(caught.value)
    path = tmp_path / "bad.key"
    path.write_text(text, encoding="ascii")
    with pytest.raises(KeyConfigurationError):
        load_master_key(settings(master_key_file=path))


def test_binary_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "binary.key"
    path.write_bytes(bytes(range(200, 232)))
    with pytest.raises(KeyConfigurationError, match="cannot be read"):
        read_key_file(path)


def test_write_key_file_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    write_key_file(path, KEY)
    with pytest.raises(KeyConfigurationError, match="not overwritten"):
        write_key_file(path, MasterKey.generate())
    assert read_key_file(path) == KEY
