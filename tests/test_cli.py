"""The CLI as scripts use it: real subprocesses, real databases."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from kmdav.accounts.modules import SEAT_MODULES
from tests.databases import throwaway_database
from tests.live import run_cli


@pytest.fixture
def fresh_db(tmp_path: Path, backend: str) -> Iterator[dict[str, str]]:
    """Environment selecting a new empty database (SQLite: the data dir's own)."""
    if backend == "sqlite":
        yield {}
        return
    with throwaway_database(backend, tmp_path) as url:
        yield {"KMDAV_DATABASE_URL": url}


def test_version() -> None:
    result = run_cli("--version")
    assert result.stdout.startswith("kmdav 0.")


def test_init_generates_and_prints_admin_password(tmp_path: Path, fresh_db: dict[str, str]) -> None:
    data = tmp_path / "data"
    result = run_cli("init", "--data-dir", str(data), env=fresh_db)
    assert "password:" in result.stdout
    secret = data / "secret_key"
    assert len(secret.read_text().strip()) >= 32
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    listing = run_cli("user", "list", "--data-dir", str(data), env=fresh_db).stdout
    assert listing.splitlines() == ["admin\tadmin\tactive"]
    again = run_cli("init", "--data-dir", str(data), env=fresh_db, check=False)
    assert again.returncode != 0
    assert "already set up" in again.stderr
    assert secret.read_text().strip() in (data / "secret_key").read_text()


def test_user_add_list_passwd(tmp_path: Path, fresh_db: dict[str, str]) -> None:
    data = str(tmp_path / "d")
    run_cli(
        "init",
        "--data-dir",
        data,
        "--admin-user",
        "boss",
        "--admin-password",
        "pw-boss-123",
        env=fresh_db,
    )
    run_cli("user", "add", "jürgen", "--password", "pw-juergen-1", "--data-dir", data, env=fresh_db)
    run_cli(
        "user",
        "add",
        "eve",
        "--password",
        "pw-eve-1234",
        "--admin",
        env={**fresh_db, "KMDAV_DATA_DIR": data},
    )
    listing = run_cli("user", "list", "--data-dir", data, env=fresh_db).stdout.splitlines()
    assert listing == ["boss\tadmin\tactive", "eve\tadmin\tactive", "jürgen\tuser\tactive"]
    changed = run_cli(
        "user", "passwd", "eve", "--data-dir", data, stdin="new-password-9\n", env=fresh_db
    )
    assert "changed" in changed.stdout
    assert _seats(tmp_path / "d", fresh_db) == {
        "boss": set(SEAT_MODULES),  # the first admin may use every module
        "eve": {"calendar", "tasks"},
        "jürgen": {"calendar", "tasks"},
    }


def _seats(data: Path, env: dict[str, str]) -> dict[str, set[str]]:
    url = env.get("KMDAV_DATABASE_URL") or f"sqlite:///{data / 'kmdav.sqlite3'}"
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT users.username, user_modules.module FROM user_modules "
                    "JOIN users ON users.id = user_modules.user_id"
                )
            ).all()
    finally:
        engine.dispose()
    seats: dict[str, set[str]] = {}
    for name, module in rows:
        seats.setdefault(name, set()).add(module)
    return seats


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["user", "add", "x/y", "--password", "long-enough-1"], "user names are"),
        (["user", "add", "shorty", "--password", "short"], "at least 8"),
        (["user", "add", "company", "--password", "long-enough-1"], "reserved"),
        (["user", "passwd", "nobody", "--password", "long-enough-1"], "no user named"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    tmp_path: Path, fresh_db: dict[str, str], args: list[str], message: str
) -> None:
    data = str(tmp_path / "d")
    run_cli("init", "--data-dir", data, "--admin-password", "pw-admin-12", env=fresh_db)
    result = run_cli(*args, "--data-dir", data, env=fresh_db, check=False)
    assert result.returncode == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    listing = run_cli("user", "list", "--data-dir", data, env=fresh_db).stdout
    assert listing.splitlines() == ["admin\tadmin\tactive"]


@pytest.mark.parametrize(
    "args",
    [
        ["user", "add", "x"],  # --password missing
        ["serve", "--port", "eighty"],
        ["frobnicate"],
    ],
)
def test_wrong_arguments(args: list[str]) -> None:
    result = run_cli(*args, check=False)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("kmdav")
    assert ": error: " in result.stderr


def test_missing_data_dir_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KMDAV_DATA_DIR", raising=False)
    result = run_cli("user", "list", check=False)
    assert result.returncode == 1
    assert "--data-dir" in result.stderr


def test_unreachable_database(tmp_path: Path) -> None:
    result = run_cli(
        "db",
        "upgrade",
        "--data-dir",
        str(tmp_path),
        env={"KMDAV_DATABASE_URL": "postgresql://127.0.0.1:1/nothing"},
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("kmdav: error: cannot use the database")
    assert len(result.stderr.strip().splitlines()) == 1


def test_data_dir_without_rights(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run_cli("init", "--data-dir", str(blocker / "data"), check=False)
    assert result.returncode == 1
    assert "cannot write to the data dir" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_example_secret(tmp_path: Path, fresh_db: dict[str, str]) -> None:
    data = tmp_path / "d"
    run_cli("init", "--data-dir", str(data), "--admin-password", "pw-admin-12", env=fresh_db)
    result = run_cli(
        "serve",
        "--data-dir",
        str(data),
        env={**fresh_db, "KMDAV_SECRET_KEY": "change-me-run-kmdav-init"},
        check=False,
    )
    assert result.returncode == 1
    assert "example value" in result.stderr


def test_serve_refuses_missing_secret(tmp_path: Path) -> None:
    result = run_cli("serve", "--data-dir", str(tmp_path), check=False)
    assert result.returncode == 1
    assert "kmdav init" in result.stderr


def test_db_upgrade_is_idempotent(tmp_path: Path, fresh_db: dict[str, str]) -> None:
    first = run_cli("db", "upgrade", "--data-dir", str(tmp_path), env=fresh_db)
    assert "was empty" in first.stdout
    second = run_cli("db", "upgrade", "--data-dir", str(tmp_path), env=fresh_db)
    assert "was" not in second.stdout
