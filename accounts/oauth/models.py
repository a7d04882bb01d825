"""OAuthClient: an OAuth2 client the administrator registered with a provider.

Registered with the accounts app (imported by accounts.models), so its migrations live
in accounts/migrations.
"""

from __future__ import annotations

from django.db import models

from accounts import credentials


class OAuthProvider(models.TextChoices):
    GOOGLE = "google", "Google"
    MICROSOFT = "microsoft", "Microsoft"
    GENERIC = "generic", "Other (generic OAuth2)"


class OAuthClient(models.Model):
    """One registered client: endpoints, scopes, the mail servers its accounts use."""

    name = models.CharField(max_length=100, help_text='Shown as "Connect with <name>".')
    provider = models.CharField(max_length=12, choices=OAuthProvider.choices,
                                default=OAuthProvider.GENERIC)
    enabled = models.BooleanField(default=True)
    client_id = models.CharField(max_length=500)
    # Fernet token (accounts.credentials); never rendered back, never logged.
    client_secret_encrypted = models.TextField(blank=True, editable=False)
    authorization_url = models.URLField(max_length=500, blank=True)
    token_url = models.URLField(max_length=500, blank=True)
    revocation_url = models.URLField(max_length=500, blank=True,
                                     help_text="Empty: the provider cannot revoke tokens.")
    scopes = models.CharField(max_length=1000, blank=True,
                              help_text="Space-separated. Include offline access where the "
                                        "provider needs it for a refresh token.")
    # The mail servers of accounts connected through this client.
    incoming_protocol = models.CharField(max_length=8, default="imap",
                                         choices=[("imap", "IMAP"), ("pop3", "POP3")])
    incoming_host = models.CharField(max_length=255, blank=True)
    incoming_port = models.PositiveIntegerField(null=True, blank=True)
    incoming_security = models.CharField(max_length=10, default="tls", choices=[
        ("none", "None"), ("starttls", "STARTTLS"), ("tls", "TLS (implicit)")])
    smtp_host = models.CharField(max_length=255, blank=True)
    smtp_port = models.PositiveIntegerField(null=True, blank=True)
    smtp_security = models.CharField(max_length=10, default="tls", choices=[
        ("none", "None"), ("starttls", "STARTTLS"), ("tls", "TLS (implicit)")])

    class Meta:
        app_label = "accounts"
        verbose_name = "OAuth2 client"
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def set_client_secret(self, secret: str) -> None:
        self.client_secret_encrypted = credentials.encrypt(secret)

    def client_secret(self) -> str:
        return credentials.decrypt(self.client_secret_encrypted)
