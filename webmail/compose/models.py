"""Writing and sending: identities, drafts, the outbox, and harvested contacts.

The outbox is the record of truth for a send: the row is written (with the built bytes
and a fixed Message-ID) before any worker touches SMTP, and its state says what is
known about the message at every moment (see outbox.py for the transitions).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import MailAccount
from webmail.mail.models import Blob, Folder, Message


class SentCopy(models.TextChoices):
    AUTO = "auto", _("Automatic (the server files it for Gmail, we do for others)")
    APPEND = "append", _("Put a copy in Sent")
    SKIP = "skip", _("The server files sent mail itself")


class Identity(models.Model):
    """A from-address of an account, with its signature."""

    account = models.ForeignKey(MailAccount, on_delete=models.CASCADE, related_name="identities")
    name = models.CharField(max_length=200, blank=True)
    address = models.CharField(max_length=320)
    reply_to = models.CharField(max_length=320, blank=True)
    signature_html = models.TextField(blank=True)
    signature_text = models.TextField(blank=True)
    is_default = models.BooleanField(default=False)
    sent_copy = models.CharField(max_length=8, choices=SentCopy.choices, default=SentCopy.AUTO)

    class Meta:
        ordering = ["account_id", "-is_default", "address", "id"]
        verbose_name_plural = "identities"
        constraints = [
            models.UniqueConstraint(
                fields=["account"], condition=Q(is_default=True), name="identity_one_default"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.address}>" if self.name else self.address


class ReplyKind(models.TextChoices):
    NEW = "", "New message"
    REPLY = "reply", "Reply"
    REPLY_ALL = "reply_all", "Reply all"
    FORWARD = "forward", "Forward"
    FORWARD_ATTACHED = "forward_attached", "Forward as attachment"


class DraftState(models.TextChoices):
    OPEN = "open", "Being written"
    QUEUED = "queued", "In the outbox"


class Draft(models.Model):
    """What the person is writing; saved every few seconds, and to IMAP Drafts."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="drafts"
    )
    account = models.ForeignKey(MailAccount, on_delete=models.CASCADE, related_name="drafts")
    identity = models.ForeignKey(Identity, on_delete=models.SET_NULL, null=True, blank=True)
    state = models.CharField(max_length=8, choices=DraftState.choices, default=DraftState.OPEN)

    to = models.TextField(blank=True)
    cc = models.TextField(blank=True)
    bcc = models.TextField(blank=True)
    subject = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    body_text = models.TextField(blank=True)
    plain_text = models.BooleanField(default=False)

    kind = models.CharField(max_length=20, choices=ReplyKind.choices, blank=True, default="")
    source = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="+")
    in_reply_to = models.CharField(max_length=998, blank=True)
    references = models.TextField(blank=True)
    # Fixed when the draft is created: every saved version and the sent message share it.
    message_id = models.CharField(max_length=998)

    # Bumped by each local save; the IMAP copy is replaced when it lags behind.
    version = models.PositiveIntegerField(default=0)
    remote_version = models.PositiveIntegerField(default=0)
    remote_folder = models.ForeignKey(Folder, on_delete=models.SET_NULL, null=True, blank=True,
                                      related_name="+")
    remote_uidvalidity = models.PositiveBigIntegerField(null=True, blank=True)
    remote_uid = models.PositiveBigIntegerField(null=True, blank=True)
    remote_error = models.TextField(blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]

    def __str__(self) -> str:
        return self.subject or str(_("(no subject)"))


class DraftAttachment(models.Model):
    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    # PROTECT: a blob still needed by a draft must never be collected.
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="+")
    content_id = models.CharField(max_length=200, blank=True)
    inline = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["draft_id", "id"]

    def __str__(self) -> str:
        return self.filename


class DraftCopyRemoval(models.Model):
    """A copy of a draft in an IMAP Drafts folder that has to go: the draft was discarded
    or sent, or moved to another account. The row is the record of the work (the draft
    row itself is gone or points elsewhere); the task only says "now", and beat's
    dispatch_due queues it again when the task was lost (see drafts.py)."""

    account = models.ForeignKey(MailAccount, on_delete=models.CASCADE, related_name="+")
    uidvalidity = models.PositiveBigIntegerField(null=True, blank=True)
    uid = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    # When beat may hand it to a worker (again); None once the server refused for good.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["next_attempt_at"], name="draft_copy_removal_due")]

    def __str__(self) -> str:
        return f"Drafts UID {self.uid} of account {self.account_id}"


class OutboxState(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    UNCERTAIN = "uncertain", "Uncertain: may have been sent"
    CANCELLED = "cancelled", "Cancelled"


class SendPhase(models.TextChoices):
    """Where a claimed send is: decides what a row left in "sending" means."""

    NONE = "", "Not started"
    CONNECTING = "connecting", "Connecting (nothing given to the server yet)"
    TRANSACTION = "transaction", "In the SMTP transaction (the server may have it)"


class SentCopyState(models.TextChoices):
    NONE = "", "Not yet"
    PENDING = "pending", "To append to Sent"
    DONE = "done", "In Sent"
    SKIPPED = "skipped", "Filed by the server"
    FAILED = "failed", "Could not append to Sent"


class Outbox(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="outbox"
    )
    account = models.ForeignKey(MailAccount, on_delete=models.CASCADE, related_name="outbox")
    identity = models.ForeignKey(Identity, on_delete=models.SET_NULL, null=True, blank=True)
    draft = models.ForeignKey(Draft, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="outbox")

    state = models.CharField(max_length=10, choices=OutboxState.choices,
                             default=OutboxState.QUEUED)
    phase = models.CharField(max_length=12, choices=SendPhase.choices, blank=True, default="")
    # A fresh token per claim: only the worker holding it may record the outcome.
    attempt_token = models.CharField(max_length=32, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    message_id = models.CharField(max_length=998)
    subject = models.TextField(blank=True)
    envelope_from = models.CharField(max_length=320)
    recipients = models.JSONField(default=list)  # envelope RCPT TO, Bcc included
    smtputf8 = models.BooleanField(default=False)
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="+")
    size = models.PositiveBigIntegerField(default=0)
    in_reply_to = models.CharField(max_length=998, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    undo_until = models.DateTimeField(null=True, blank=True)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField()
    sending_started_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    last_error = models.TextField(blank=True)
    error_code = models.PositiveIntegerField(null=True, blank=True)
    # [{"address", "accepted", "code", "message"}] from the last transaction.
    recipient_results = models.JSONField(default=list, blank=True)
    sent_copy = models.CharField(max_length=8, choices=SentCopyState.choices, blank=True,
                                 default="")
    sent_copy_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="outbox_due"),
            models.Index(fields=["owner", "state"], name="outbox_owner_state"),
        ]

    def __str__(self) -> str:
        return f"{self.subject or '(no subject)'} ({self.state})"

    @property
    def refused(self) -> list[dict[str, object]]:
        return [r for r in self.recipient_results if not r.get("accepted")]


class Contact(models.Model):
    """An address a person wrote to or heard from; ranked by use for autocomplete."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contacts"
    )
    address = models.CharField(max_length=320)  # lower-cased
    name = models.CharField(max_length=200, blank=True)
    use_count = models.PositiveIntegerField(default=0)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Added by the person (address book) rather than harvested.
    saved = models.BooleanField(default=False)

    class Meta:
        ordering = ["-use_count", "address"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "address"], name="contact_unique_address"),
        ]
        indexes = [models.Index(fields=["owner", "-use_count"], name="contact_owner_rank")]

    def __str__(self) -> str:
        return f"{self.name} <{self.address}>" if self.name else self.address
