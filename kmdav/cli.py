"""The ``kmdav`` command line.

Every failure ends in one line on stderr (``kmdav: error: ...``) and a
non-zero exit; tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from sqlalchemy.exc import OperationalError, SQLAlchemyError

from kmdav import __version__, audit, migrate
from kmdav.accounts import service as accounts
from kmdav.accounts.passwords import generate_password
from kmdav.dav import provisioning
from kmdav.db import Database, redacted
from kmdav.errors import KmdavError
from kmdav.settings import Settings, load_settings, new_secret

EXIT_USAGE = 2
EXIT_FAILURE = 1


class CliError(Exception):
    """A failure to report in one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _data_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where kmdav keeps its database and secret key (default: $KMDAV_DATA_DIR)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="kmdav",
        description="kmdav: CRM and CardDAV/CalDAV server.",
    )
    parser.add_argument("--version", action="version", version=f"kmdav {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    init = commands.add_parser(
        "init", help="create the data dir, secret key, database and first admin"
    )
    _data_dir_option(init)
    init.add_argument("--admin-user", default="admin", help="name of the first admin")
    init.add_argument(
        "--admin-password", help="password of the first admin (generated and printed if omitted)"
    )
    init.set_defaults(handler=_cmd_init)

    serve = commands.add_parser("serve", help="run the server (upgrades the schema first)")
    _data_dir_option(serve)
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (default 1)")
    serve.add_argument("--tls-cert", type=Path, help="PEM certificate for direct TLS")
    serve.add_argument("--tls-key", type=Path, help="PEM private key for direct TLS")
    serve.set_defaults(handler=_cmd_serve)

    user = commands.add_parser("user", help="manage users")
    user_commands = user.add_subparsers(dest="user_command", metavar="ACTION", parser_class=_Parser)
    user_commands.required = True
    add = user_commands.add_parser("add", help="create a user")
    add.add_argument("name")
    add.add_argument("--password", required=True)
    add.add_argument("--admin", action="store_true", help="make the user an administrator")
    add.add_argument("--email", help="the user's e-mail address")
    _data_dir_option(add)
    add.set_defaults(handler=_cmd_user_add)
    listing = user_commands.add_parser("list", help="list users")
    _data_dir_option(listing)
    listing.set_defaults(handler=_cmd_user_list)
    passwd = user_commands.add_parser(
        "passwd", help="set a user's password (asks for it, or reads one line from stdin)"
    )
    passwd.add_argument("name")
    passwd.add_argument("--password", help="the new password (avoid: it lands in shell history)")
    _data_dir_option(passwd)
    passwd.set_defaults(handler=_cmd_user_passwd)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", parser_class=_Parser)
    db_commands.required = True
    upgrade = db_commands.add_parser("upgrade", help="upgrade the schema to this version")
    _data_dir_option(upgrade)
    upgrade.set_defaults(handler=_cmd_db_upgrade)
    return parser


# -- helpers -----------------------------------------------------------------------


def _settings(args: argparse.Namespace, **overrides: object) -> Settings:
    data_dir = args.data_dir
    if data_dir is None and not os.environ.get("KMDAV_DATA_DIR"):
        raise CliError("no data dir: pass --data-dir DIR or set KMDAV_DATA_DIR")
    return load_settings(data_dir=data_dir, **overrides)


def _ensure_writable_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise CliError(f"cannot write to the data dir {path}: {exc.strerror or exc}") from exc


def _open_database(settings: Settings, *, upgrade: bool = True) -> Database:
    if settings.is_sqlite:
        if not settings.data_dir.is_dir():
            raise CliError(
                f"the data dir {settings.data_dir} does not exist: run "
                f"'kmdav init --data-dir {settings.data_dir}' first"
            )
        _ensure_writable_dir(settings.data_dir)
    database = Database(settings.effective_database_url)
    database.open()
    try:
        if upgrade:
            migrate.upgrade(database.engine)
        elif not migrate.is_current(database.engine):
            raise CliError("the database schema is out of date: run 'kmdav db upgrade'")
    except Exception:
        database.close()
        raise
    return database


def _read_new_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("New password: ")
        if first != getpass.getpass("Repeat it: "):
            raise CliError("the passwords do not match; nothing changed")
        return first
    line = sys.stdin.readline()
    if not line:
        raise CliError("no password given: pass --password or write one line to stdin")
    return line.rstrip("\r\n")


# -- commands ------------------------------------------------------------------------


def _cmd_init(args: argparse.Namespace) -> int:
    settings = _settings(args)
    _ensure_writable_dir(settings.data_dir)
    secret_file = settings.secret_file
    if not settings.secret_key and not secret_file.exists():
        fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(new_secret() + "\n")
    database = _open_database(settings)
    try:
        password = args.admin_password or generate_password()
        with database.transaction() as session:
            provisioning.ensure_company_addressbook(session, settings.dav.company_addressbook)
            if accounts.get_user(session, args.admin_user) is not None:
                raise CliError(
                    f"kmdav is already set up here: user {args.admin_user!r} exists "
                    "(use 'kmdav user passwd' to change its password)"
                )
            accounts.create_user(session, args.admin_user, password, is_admin=True, actor=audit.CLI)
    finally:
        database.close()
    print(f"kmdav initialised in {settings.data_dir.resolve()}")
    print(f"database: {redacted(settings.effective_database_url)}")
    if args.admin_password:
        print(f"admin user: {args.admin_user}")
    else:
        print(f"admin user: {args.admin_user}  password: {password}  (shown once, note it now)")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    server_overrides = {
        key: value
        for key, value in {
            "host": args.host,
            "port": args.port,
            "workers": args.workers,
            "tls_cert": args.tls_cert,
            "tls_key": args.tls_key,
        }.items()
        if value is not None
    }
    settings = _settings(args)
    server = settings.server.model_copy(update=server_overrides)
    if (server.tls_cert is None) != (server.tls_key is None):
        raise CliError("--tls-cert and --tls-key go together")
    for path in (server.tls_cert, server.tls_key):
        if path is not None and not path.is_file():
            raise CliError(f"TLS file {path} does not exist")
    settings.resolved_secret()
    database = _open_database(settings)
    database.close()

    import uvicorn  # imported late: only this command needs it

    if args.data_dir is not None:
        # Worker processes build their settings from the environment.
        os.environ["KMDAV_DATA_DIR"] = str(args.data_dir)
    uvicorn.run(
        "kmdav.app:app_from_environment",
        factory=True,
        host=server.host,
        port=server.port,
        workers=server.workers,
        ssl_certfile=str(server.tls_cert) if server.tls_cert else None,
        ssl_keyfile=str(server.tls_key) if server.tls_key else None,
        proxy_headers=True,
        forwarded_allow_ips=server.forwarded_allow_ips,
        log_level=settings.log_level.lower(),
    )
    return 0


def _cmd_user_add(args: argparse.Namespace) -> int:
    database = _open_database(_settings(args))
    try:
        with database.transaction() as session:
            accounts.create_user(
                session,
                args.name,
                args.password,
                is_admin=args.admin,
                email=args.email,
                actor=audit.CLI,
            )
    finally:
        database.close()
    print(f"user {args.name} created" + (" (admin)" if args.admin else ""))
    return 0


def _cmd_user_list(args: argparse.Namespace) -> int:
    database = _open_database(_settings(args), upgrade=False)
    try:
        with database.transaction("read") as session:
            users = accounts.list_users(session)
            rows = [
                (
                    u.username,
                    "admin" if u.is_admin else "user",
                    "active" if u.is_active else "disabled",
                    u.email or "",
                )
                for u in users
            ]
    finally:
        database.close()
    for name, role, state, email in rows:
        print(f"{name}\t{role}\t{state}\t{email}".rstrip())
    return 0


def _cmd_user_passwd(args: argparse.Namespace) -> int:
    settings = _settings(args)
    password = args.password if args.password is not None else _read_new_password()
    database = _open_database(settings, upgrade=False)
    try:
        with database.transaction() as session:
            accounts.set_password(session, args.name, password, actor=audit.CLI)
    finally:
        database.close()
    print(f"password of {args.name} changed")
    return 0


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = _settings(args)
    database = Database(settings.effective_database_url)
    if settings.is_sqlite:
        _ensure_writable_dir(settings.data_dir)
    database.open()
    try:
        before = migrate.current_revision(database.engine)
        migrate.upgrade(database.engine)
        after = migrate.current_revision(database.engine)
    finally:
        database.close()
    print(f"schema at {after}" + ("" if before == after else f" (was {before or 'empty'})"))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except (CliError, KmdavError) as exc:
        _fail(str(exc))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        _fail(f"cannot use the database: {reason}")
    except SQLAlchemyError as exc:
        _fail(f"database error: {exc.__class__.__name__}: {str(exc).splitlines()[0]}")
    except PermissionError as exc:
        _fail(f"permission denied: {exc.filename or exc}")
    except KeyboardInterrupt:
        return 130
    return EXIT_FAILURE


def _fail(message: str) -> None:
    print(f"kmdav: error: {message}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
