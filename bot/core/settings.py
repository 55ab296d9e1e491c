"""Settings, read once from the environment (prefix ``ALUMNIBOT_``) and passed explicitly."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.core.render import LOCALES

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTENT_DIR = REPO_ROOT / "content"


def normalise_database_url(url: str) -> str:
    """Map plain ``sqlite://`` and ``postgresql://`` URLs onto their async drivers."""
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url.removeprefix("sqlite://")
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url.removeprefix(prefix)
    return url


class Settings(BaseSettings):
    """Everything a deployment can configure; see ``.env.example`` and the README table."""

    model_config = SettingsConfigDict(
        env_prefix="ALUMNIBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    telegram_token: SecretStr | None = None
    telegram_api_url: str | None = Field(
        default=None,
        description="Bot API base URL ending in /bot, e.g. a self-hosted server or the simulator.",
    )
    telegram_file_url: str | None = None
    database_url: str = "sqlite+aiosqlite:///alumnibot.db"

    # Webhook mode (``alumnibot run --webhook``).
    webhook_url: str | None = Field(
        default=None, description="Public HTTPS URL Telegram posts to."
    )
    webhook_secret: SecretStr | None = None
    listen_host: str = "127.0.0.1"
    listen_port: int = 8443

    # Offline sandbox (no token): simulator plus web chat.
    sandbox_host: str = "127.0.0.1"
    sandbox_port: int = 8080

    school_name: str = "Voorbeeld mbo-college"
    privacy_contact: str = "privacy@school.example"
    timezone: str = "Europe/Amsterdam"
    staff_locale: str = Field(
        default="nl",
        description="Language of what staff read: staff-group messages, notes, the console's "
        "alumnus card, the command line.",
    )
    secret_key: SecretStr = Field(
        default=SecretStr("change-me-in-production"),
        description="Keys the hashed suppression list; set a long random value in production.",
    )
    inbound_update_retention_days: int = 7

    # Delivery engine (outbox dispatcher), see DESIGN.md "Delivery".
    send_rate: float = Field(default=25.0, gt=0, description="Messages per second, overall.")
    paid_broadcast: bool = Field(
        default=False, description="Telegram paid broadcasts: allows send_rate up to 1000/s."
    )
    outbox_batch_size: int = 200
    outbox_lease_seconds: int = 60
    outbox_max_attempts: int = 8
    group_messages_per_minute: float = Field(
        default=20, gt=0, description="Telegram allows 20 messages a minute into one group."
    )
    quiet_hours_start: int = Field(default=21, ge=0, le=23, description="Hour pushes stop.")
    quiet_hours_end: int = Field(default=8, ge=0, le=23, description="Hour pushes resume.")
    push_cap_per_week: int = Field(
        default=2,
        ge=1,
        description="Campaign pushes per alumnus per 7 days; more wait for the digest.",
    )
    digest_weekday: int = Field(
        default=0, ge=0, le=6, description="Day digests go out (0 = Monday), school time."
    )
    digest_hour: int = Field(default=10, ge=0, le=23, description="Hour digests go out.")

    # Graduate registry and invitations (docs/privacy.md, "Graduate registry").
    bot_username: str | None = Field(
        default=None,
        description="The bot's @username without @, for t.me invitation links from the CLI.",
    )
    registry_retention_days: int = Field(
        default=730,
        ge=1,
        description="Keep an imported record nobody linked this long after its last import.",
    )
    invitation_days: int = Field(
        default=90, ge=1, description="A personal invitation link expires after this many days."
    )

    # Coordinator web console.
    web_host: str = "127.0.0.1"
    web_port: int = 8081
    web_cookie_secure: bool = Field(
        default=True,
        description="Send the session cookie over HTTPS only (off only for local use).",
    )
    web_session_hours: int = 12
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    report_min_group: int = Field(
        default=5,
        ge=2,
        description="Reports hide groups smaller than this (k); survey answers are stored "
        "with attributes at least this many alumni share.",
    )
    concurrent_updates: int = 64
    log_level: str = "INFO"
    content_dir: Path = CONTENT_DIR

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("staff_locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value not in LOCALES:
            raise ValueError(f"staff_locale must be one of {', '.join(LOCALES)}")
        return value

    @model_validator(mode="after")
    def _rate_within_telegram_limits(self) -> Settings:
        cap = 1000.0 if self.paid_broadcast else 30.0
        if self.send_rate > cap:
            raise ValueError(
                f"send_rate {self.send_rate}/s exceeds Telegram's {cap:g}/s"
                + ("" if self.paid_broadcast else " (set paid_broadcast for up to 1000/s)")
            )
        return self

    @property
    def sandbox(self) -> bool:
        """Return whether no Telegram token is configured (offline sandbox mode)."""
        return self.telegram_token is None
