"""People (User) and the upstream mail accounts they attach (MailAccount)."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts import credentials
from accounts.oauth.models import OAuthClient  # noqa: F401 - registers it with this app


class User(AbstractUser):
    """Custom from the first migration so fields can be added later without pain."""

    require_2fa = models.BooleanField(
        default=False, help_text=_("Must set up two-factor login before using the site.")
    )

    class Meta:
        db_table = "accounts_user"


class Security(models.TextChoices):
    NONE = "none", _("None (plain text, not recommended)")
    STARTTLS = "starttls", "STARTTLS"
    TLS = "tls", _("TLS (implicit)")


class Protocol(models.TextChoices):
    IMAP = "imap", "IMAP"
    POP3 = "pop3", "POP3"


class SyncStatus(models.TextChoices):
    NEVER = "never", _("Never synced")
    SYNCING = "syncing", _("Syncing")
    OK = "ok", _("Up to date")
    ERROR = "error", _("Error")


class AuthKind(models.TextChoices):
    PASSWORD = "password", _("Password")
    OAUTH2 = "oauth2", "OAuth2 (XOAUTH2)"


class Pop3Policy(models.TextChoices):
    KEEP = "keep", _("Keep messages on the server")
    DELETE = "delete", _("Delete from the server after download")
    DELETE_AFTER_DAYS = "delete_after_days", _("Delete from the server after some days")


DEFAULT_PORTS: dict[tuple[str, str], int] = {
    (Protocol.IMAP, Security.TLS): 993,
    (Protocol.IMAP, Security.STARTTLS): 143,
    (Protocol.IMAP, Security.NONE): 143,
    (Protocol.POP3, Security.TLS): 995,
    (Protocol.POP3, Security.STARTTLS): 110,
    (Protocol.POP3, Security.NONE): 110,
    ("smtp", Security.TLS): 465,
    ("smtp", Security.STARTTLS): 587,
    ("smtp", Security.NONE): 25,
}


class MailAccount(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mail_accounts"
    )
    display_name = models.CharField(max_length=200, blank=True)
    email = models.EmailField()

    protocol = models.CharField(max_length=8, choices=Protocol.choices, default=Protocol.IMAP)
    incoming_host = models.CharField(max_length=255)
    incoming_port = models.PositiveIntegerField(default=993)
    incoming_security = models.CharField(
        max_length=10, choices=Security.choices, default=Security.TLS
    )
    incoming_username = models.CharField(max_length=255)
    # Fernet tokens (accounts.credentials); never rendered back, never logged.
    incoming_password_encrypted = models.TextField(blank=True, editable=False)

    smtp_host = models.CharField(max_length=255, blank=True)
    smtp_port = models.PositiveIntegerField(default=587)
    smtp_security = models.CharField(
        max_length=10, choices=Security.choices, default=Security.STARTTLS
    )
    smtp_same_credentials = models.BooleanField(
        default=True, help_text=_("Log in to SMTP with the incoming username and password.")
    )
    smtp_username = models.CharField(max_length=255, blank=True)
    smtp_password_encrypted = models.TextField(blank=True, editable=False)

    # OAuth2 accounts (accounts.oauth): the tokens are Fernet tokens like the passwords.
    auth_kind = models.CharField(max_length=10, choices=AuthKind.choices,
                                 default=AuthKind.PASSWORD)
    oauth_client = models.ForeignKey("accounts.OAuthClient", on_delete=models.PROTECT,
                                     null=True, blank=True, related_name="accounts")
    oauth_refresh_token_encrypted = models.TextField(blank=True, editable=False)
    oauth_access_token_encrypted = models.TextField(blank=True, editable=False)
    oauth_access_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The grant was revoked or expired: sync and sending wait until the person reconnects.
    reconnect_needed = models.BooleanField(default=False)

    # Admin-only: accept this exact certificate (SHA-256 of its DER form) even when no
    # trusted authority signed it. Pinning, never "verification off".
    trusted_cert_sha256 = models.CharField(max_length=64, blank=True)
    # Whose Authentication-Results headers to believe (RFC 8601 authserv-id): anyone can
    # write that header into mail they send, only our own receiving server's counts.
    # Empty: the incoming host's name (providers whose MX stamps another name set it).
    authserv_id = models.CharField(
        _("Authentication-Results server"), max_length=255, blank=True,
        help_text=_("The name your provider's mail server writes in Authentication-Results "
                    "headers (for example mx.example.com). Empty: the incoming server's name."),
    )

    pop3_policy = models.CharField(
        max_length=20, choices=Pop3Policy.choices, default=Pop3Policy.KEEP
    )
    pop3_delete_after_days = models.PositiveIntegerField(default=14)
    poll_interval_minutes = models.PositiveIntegerField(default=5)

    enabled = models.BooleanField(default=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    sync_status = models.CharField(
        max_length=10, choices=SyncStatus.choices, default=SyncStatus.NEVER
    )
    last_error = models.TextField(blank=True)
    # What the sync engine is doing now, for the UI and the admin:
    # {"phase": ..., "done": n, "total": n, "rate": n, "folder": ...}
    sync_progress = models.JSONField(default=dict, blank=True)
    # One sync per account at a time: a lease claimed with a conditional UPDATE.
    sync_lease_owner = models.CharField(max_length=100, blank=True)
    sync_lease_until = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    REQUIRED_FOR_DISPLAY: ClassVar[tuple[str, ...]] = ("email", "protocol", "incoming_host")

    class Meta:
        ordering = ["email", "id"]
        indexes = [models.Index(fields=["enabled", "protocol"])]

    def __str__(self) -> str:
        return self.display_name or self.email

    # Credentials: write-only from the outside.
    def set_incoming_password(self, password: str) -> None:
        self.incoming_password_encrypted = credentials.encrypt(password)

    def set_smtp_password(self, password: str) -> None:
        self.smtp_password_encrypted = credentials.encrypt(password)

    def incoming_password(self) -> str:
        return credentials.decrypt(self.incoming_password_encrypted)

    def smtp_login(self) -> tuple[str, str]:
        """The username and password for SMTP, following "same as incoming"."""
        if self.smtp_same_credentials:
            return self.incoming_username, self.incoming_password()
        return self.smtp_username, credentials.decrypt(self.smtp_password_encrypted)

    @property
    def has_smtp(self) -> bool:
        return bool(self.smtp_host)


class RegistrationPolicy(models.TextChoices):
    INVITE = "invite", "Invitation only"
    OPEN = "open", "Open sign-up"
    DOMAINS = "domains", "Sign-up for listed email domains"


class SiteSettings(models.Model):
    """Site-wide choices of the administrator (one row, pk=1)."""

    registration_policy = models.CharField(
        max_length=10, choices=RegistrationPolicy.choices, default=RegistrationPolicy.INVITE
    )
    allowed_domains = models.TextField(
        blank=True, help_text="One email domain per line, for domain sign-up."
    )
    require_2fa_for_all = models.BooleanField(default=False)
    max_accounts_per_user = models.PositiveIntegerField(default=10)
    max_upload_bytes = models.PositiveBigIntegerField(default=25 * 1024 * 1024)
    max_sends_per_hour = models.PositiveIntegerField(default=200)

    class Meta:
        verbose_name = "site settings"
        verbose_name_plural = "site settings"

    def __str__(self) -> str:
        return "Site settings"

    @classmethod
    def current(cls) -> SiteSettings:
        settings_row, _ = cls.objects.get_or_create(pk=1)
        return settings_row

    def domain_allowed(self, email: str) -> bool:
        domain = email.rpartition("@")[2].lower()
        allowed = {line.strip().lower().lstrip("@") for line in self.allowed_domains.splitlines()}
        return bool(domain) and domain in allowed


class Invitation(models.Model):
    email = models.EmailField()
    token = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="invitations_sent",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.email
