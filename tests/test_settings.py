from __future__ import annotations

from pathlib import Path

import pytest

from kmdav.errors import ConfigError
from kmdav.settings import EXAMPLE_SECRET, Settings, load_settings

EXAMPLE_CONFIG = Path(__file__).parent.parent / "config" / "kmdav.example.toml"


def test_toml_file_in_data_dir_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KMDAV_CONFIG", raising=False)
    (tmp_path / "kmdav.toml").write_text('log_level = "DEBUG"\n[server]\nport = 9001\n')
    settings = load_settings(data_dir=tmp_path)
    assert settings.log_level == "DEBUG"
    assert settings.server.port == 9001


def test_environment_beats_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "custom.toml"
    config.write_text("[server]\nport = 9001\n[dav]\nmax_content_length = 10\n")
    monkeypatch.setenv("KMDAV_CONFIG", str(config))
    monkeypatch.setenv("KMDAV_SERVER__PORT", "9002")
    settings = load_settings(data_dir=tmp_path)
    assert settings.server.port == 9002
    assert settings.dav.max_content_length == 10


def test_invalid_value_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KMDAV_SERVER__PORT", "not-a-port")
    with pytest.raises(ConfigError, match=r"server\.port"):
        load_settings(data_dir=tmp_path)


def test_unknown_option_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "kmdav.toml"
    config.write_text("databse_url = 'typo'\n")
    monkeypatch.setenv("KMDAV_CONFIG", str(config))
    with pytest.raises(ConfigError, match="databse_url"):
        load_settings(data_dir=tmp_path)


def test_postgres_url_uses_psycopg3() -> None:
    settings = Settings(database_url="postgresql://u@127.0.0.1/db")
    assert settings.effective_database_url == "postgresql+psycopg://u@127.0.0.1/db"
    assert not settings.is_sqlite


def test_sqlite_is_the_default(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.effective_database_url == f"sqlite:///{tmp_path.resolve()}/kmdav.sqlite3"


def test_missing_secret_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="kmdav init"):
        Settings(data_dir=tmp_path).resolved_secret()


def test_example_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="example"):
        Settings(data_dir=tmp_path, secret_key=EXAMPLE_SECRET).resolved_secret()


def test_secret_file_is_used(tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text("s" * 40 + "\n")
    assert Settings(data_dir=tmp_path).resolved_secret() == "s" * 40


def test_example_config_documents_every_option(monkeypatch: pytest.MonkeyPatch) -> None:
    """The example file loads, and names every setting there is."""
    monkeypatch.setenv("KMDAV_CONFIG", str(EXAMPLE_CONFIG))
    settings = load_settings()
    text = EXAMPLE_CONFIG.read_text()
    for name in Settings.model_fields:
        assert f"{name} =" in text or f"[{name}]" in text, name
        sub = getattr(settings, name)
        for sub_name in getattr(type(sub), "model_fields", {}):
            assert f"{sub_name} =" in text, f"{name}.{sub_name}"
    assert settings.secret_key == EXAMPLE_SECRET
