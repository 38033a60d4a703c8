"""Settings: one TOML file plus ``KMDAV_*`` environment variables.

Precedence, highest first: explicit keyword overrides (the CLI's flags),
environment variables, the TOML file, then the defaults below.  The TOML file
is ``$KMDAV_CONFIG`` when set, else ``<data dir>/kmdav.toml`` when it exists.
Nested sections map to environment variables with a double underscore, for
example ``[dav] max_content_length`` is ``KMDAV_DAV__MAX_CONTENT_LENGTH``.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from kmdav.errors import ConfigError

#: The placeholder the example config ships with; the server refuses it.
EXAMPLE_SECRET = "change-me-run-kmdav-init"  # noqa: S105 - the refused placeholder
SECRET_FILE_NAME = "secret_key"  # noqa: S105 - a file name
CONFIG_FILE_NAME = "kmdav.toml"
SQLITE_FILE_NAME = "kmdav.sqlite3"


class DavSettings(BaseModel):
    """The CalDAV/CardDAV face under ``/dav/``."""

    #: Largest accepted request body in bytes (vCards with photos are big).
    max_content_length: int = Field(default=20_000_000, gt=0)
    #: Seconds a verified Basic-auth credential stays cached in memory, so
    #: that argon2 does not run on every request of a syncing client.
    auth_cache_seconds: int = Field(default=60, ge=0)
    #: Failed logins per (user, address) tolerated within the window.
    login_failures_allowed: int = Field(default=5, ge=1)
    login_failure_window_seconds: int = Field(default=300, ge=1)
    #: Name of the shared company address book (below the ``company`` home).
    company_addressbook: str = "company/contacts"


class WebSettings(BaseModel):
    """The browser face under ``/web/``."""

    #: Seconds a web login lasts before the user logs in again.
    session_seconds: int = Field(default=12 * 3600, ge=60)
    #: Failed web logins per (login name, address) tolerated within the window.
    login_failures_allowed: int = Field(default=5, ge=1)
    login_failure_window_seconds: int = Field(default=300, ge=1)
    #: Largest file a web form accepts (the contacts import), in bytes; the
    #: file is streamed to the data dir, so this is about disk, not memory.
    upload_max_bytes: int = Field(default=100_000_000, gt=0)
    #: IANA time zone of the web calendar for users who chose none.
    default_time_zone: str = "Europe/Vienna"


#: A price per user and month: a non-negative decimal with at most 4 places.
Price = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=4, allow_inf_nan=False)]


class LicenceSettings(BaseModel):
    """Prices of the licence overview (per user and month)."""

    currency: str = Field(default="EUR", min_length=1, max_length=8)
    #: Every active user pays the contacts base.
    base_price: Price = Decimal("15")
    #: Each seat of another module, unless ``prices`` names that module.
    module_price: Price = Decimal("10")
    #: Per-module prices by module key, e.g. ``{ newsletter = "12.50" }``.
    prices: dict[str, Price] = {}

    @field_validator("prices")
    @classmethod
    def _known_modules(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        from kmdav.accounts.modules import SEAT_MODULES  # the catalogue lives with its service

        unknown = sorted(set(value) - set(SEAT_MODULES))
        if unknown:
            raise ValueError(
                f"unknown module(s) {', '.join(unknown)}; price one of {', '.join(SEAT_MODULES)}"
            )
        return value

    def price_of(self, module: str) -> Decimal:
        return self.prices.get(module, self.module_price)


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    #: One by default: measured on 2 CPUs, a second worker made a single
    #: client slower and one process exceed 250 MB (docs/architecture.md).
    workers: int = Field(default=1, ge=1, le=64)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: Addresses whose X-Forwarded-For/-Proto headers are trusted (a proxy).
    forwarded_allow_ips: str = "127.0.0.1"


class JobsSettings(BaseModel):
    """Background jobs (huey): where the queue lives and who consumes it."""

    #: Empty: the queue is a SQLite file in the data dir (one host). A Redis
    #: URL ("redis://127.0.0.1:6379/0") when several hosts run kmdav.
    redis_url: str = ""
    #: Run the consumer inside ``kmdav serve``. Set to false when separate
    #: ``kmdav worker`` processes do the work.
    run_in_server: bool = True
    #: Worker threads of one consumer.
    workers: int = Field(default=2, ge=1, le=64)
    #: Seconds a running job may go without reporting progress before it is
    #: taken for dead (its process was killed) and run again.
    lease_seconds: int = Field(default=300, ge=10)


class MailSettings(BaseModel):
    """Outgoing e-mail over SMTP."""

    #: Empty: kmdav sends no e-mail (sending fails with a clear message).
    host: str = ""
    port: int = Field(default=587, ge=1, le=65535)
    #: none (plain, e.g. a local relay), starttls (port 587) or tls (port 465).
    security: Literal["none", "starttls", "tls"] = "starttls"
    #: Login for SMTP AUTH; empty: no login.
    username: str = ""
    password: SecretStr = SecretStr("")
    #: Sender of every message, e.g. "kmdav <crm@example.com>".
    from_address: str = ""
    #: Seconds to wait for the server at each step.
    timeout: float = Field(default=30, gt=0)
    #: PEM file of CA certificates to verify the server with; empty: the
    #: system's certificate store. Verification is never switched off.
    ca_file: Path | None = None


class FormsSettings(BaseModel):
    """Public website contact forms (``/f/``): spam defence and limits."""

    #: A form sent sooner than this after its page was served is refused (bots fill at once).
    min_fill_seconds: float = Field(default=3, ge=0)
    #: A form page older than this is refused (the visitor reloads it).
    max_age_seconds: int = Field(default=24 * 3600, ge=60)
    #: How long the token in an embed snippet stays valid (the snippet is pasted into a site).
    snippet_max_age_seconds: int = Field(default=400 * 24 * 3600, ge=60)
    #: Submissions allowed per client address within ``window_seconds`` (all forms).
    submissions_allowed: int = Field(default=10, ge=1)
    window_seconds: int = Field(default=3600, ge=1)
    #: Largest request body a submission may have.
    max_body_bytes: int = Field(default=32 * 1024, ge=1024)


class Settings(BaseSettings):
    """All of kmdav's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="KMDAV_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    data_dir: Path = Path("data")
    #: SQLAlchemy URL; empty means SQLite in the data dir.
    database_url: str = ""
    #: Signs sessions and tokens. ``kmdav init`` writes one to the data dir.
    secret_key: str = ""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    server: ServerSettings = ServerSettings()
    dav: DavSettings = DavSettings()
    web: WebSettings = WebSettings()
    jobs: JobsSettings = JobsSettings()
    mail: MailSettings = MailSettings()
    forms: FormsSettings = FormsSettings()
    licence: LicenceSettings = LicenceSettings()

    @field_validator("database_url")
    @classmethod
    def _normalise_postgres_driver(cls, value: str) -> str:
        # Accept the plain libpq form operators copy from their provider and
        # pin it to psycopg 3, the driver we ship.
        for prefix in ("postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_file = _config_file_from_environment()
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    # -- derived values -------------------------------------------------

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / SQLITE_FILE_NAME).resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def secret_file(self) -> Path:
        return self.data_dir / SECRET_FILE_NAME

    def resolved_secret(self) -> str:
        """The secret key, from the settings or the data dir's key file.

        Raises :class:`ConfigError` with instructions when there is none or
        when it is still the example placeholder.
        """
        secret = self.secret_key
        if not secret and self.secret_file.is_file():
            secret = self.secret_file.read_text(encoding="utf-8").strip()
        if not secret:
            raise ConfigError(
                f"no secret key: run 'kmdav init --data-dir {self.data_dir}' "
                "or set KMDAV_SECRET_KEY"
            )
        if secret == EXAMPLE_SECRET:
            raise ConfigError(
                "the secret key is still the example value: remove secret_key from "
                "the config to use the one 'kmdav init' wrote, or set a random one"
            )
        if len(secret) < 32:
            raise ConfigError("the secret key is too short: use at least 32 characters")
        return secret


def _config_file_from_environment() -> Path | None:
    explicit = os.environ.get("KMDAV_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist (KMDAV_CONFIG)")
        return path
    data_dir = os.environ.get("KMDAV_DATA_DIR")
    if data_dir:
        candidate = Path(data_dir) / CONFIG_FILE_NAME
        if candidate.is_file():
            return candidate
    return None


def load_settings(**overrides: Any) -> Settings:
    """Build settings from file and environment, with ``overrides`` on top.

    A ``data_dir`` override also makes ``<data_dir>/kmdav.toml`` the config
    file when no ``KMDAV_CONFIG`` is set.
    """
    clean = {key: value for key, value in overrides.items() if value is not None}
    data_dir = clean.get("data_dir")
    previous = os.environ.get("KMDAV_DATA_DIR")
    try:
        if data_dir is not None:
            os.environ["KMDAV_DATA_DIR"] = str(data_dir)
        try:
            return Settings(**clean)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file is not valid TOML: {exc}") from exc
        except ValueError as exc:
            raise ConfigError(_first_validation_message(exc)) from exc
    finally:
        if data_dir is not None:
            if previous is None:
                os.environ.pop("KMDAV_DATA_DIR", None)
            else:
                os.environ["KMDAV_DATA_DIR"] = previous


def _first_validation_message(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        details = errors()
        if details:
            first = details[0]
            where = ".".join(str(part) for part in first.get("loc", ())) or "settings"
            return f"invalid setting {where}: {first.get('msg', 'invalid value')}"
    return f"invalid settings: {exc}"


def new_secret() -> str:
    return secrets.token_urlsafe(48)
