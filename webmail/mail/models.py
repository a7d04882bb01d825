"""The local copy of every account: folders, messages, raw blobs, queued upstream work.

Raw first: a message's exact bytes live in a Blob (content-addressed, compressed);
every other field here is derived from them and can be rebuilt.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, Lower, NullIf, Substr
from django.utils.translation import gettext_lazy as _

from accounts.models import MailAccount


class Blob(models.Model):
    """Raw RFC 5322 bytes, named by their SHA-256, stored compressed (mail.blobs)."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    size = models.PositiveBigIntegerField()
    stored_size = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.sha256


class FolderRole(models.TextChoices):
    NONE = "", "Folder"
    INBOX = "inbox", "Inbox"
    SENT = "sent", "Sent"
    DRAFTS = "drafts", "Drafts"
    TRASH = "trash", "Trash"
    JUNK = "junk", "Junk"
    ARCHIVE = "archive", "Archive"


class Folder(models.Model):
    account = models.ForeignKey(MailAccount, on_delete=models.CASCADE, related_name="folders")
    # Decoded, human name (full path with the server's delimiter) and the name on the
    # server as sent over the wire (modified UTF-7 unless UTF8=ACCEPT), for commands.
    name = models.CharField(max_length=1000)
    remote_name = models.CharField(max_length=1000, blank=True)
    delimiter = models.CharField(max_length=4, blank=True, default="/")
    role = models.CharField(max_length=10, choices=FolderRole.choices, blank=True, default="")
    # POP3 accounts and folders the server refuses keep their state only here.
    local_only = models.BooleanField(default=False)
    selectable = models.BooleanField(default=True)
    subscribed = models.BooleanField(default=True)

    # IMAP sync state.
    uidvalidity = models.PositiveBigIntegerField(null=True, blank=True)
    uidnext = models.PositiveBigIntegerField(null=True, blank=True)
    highestmodseq = models.PositiveBigIntegerField(null=True, blank=True)
    # Highest UID whose headers we hold: new messages are those above it.
    last_seen_uid = models.PositiveBigIntegerField(default=0)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    # {"phase": "headers"|"bodies"|"idle", "done": n, "total": n, "rate": msgs/s, "error": ""}
    sync_progress = models.JSONField(default=dict, blank=True)
    # Keywords (labels) the server refused to store in this folder: they stay on our
    # messages only, and a sync leaves them alone (webmail.mail.labels).
    local_keywords = models.JSONField(default=list, blank=True)

    # Kept by the store's write paths, so the folder list needs no COUNT(*).
    total_count = models.PositiveIntegerField(default=0)
    unread_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["account_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="folder_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class BodyState(models.TextChoices):
    HEADERS = "headers", "Headers only"
    FULL = "full", "Stored"
    FAILED = "failed", "Could not be fetched"


class Message(models.Model):
    account = models.ForeignKey(MailAccount, on_delete=models.CASCADE, related_name="messages")
    folder = models.ForeignKey(Folder, on_delete=models.CASCADE, related_name="messages")

    # Upstream identity: IMAP (uidvalidity, uid); POP3 messages have no UID here.
    uidvalidity = models.PositiveBigIntegerField(null=True, blank=True)
    uid = models.PositiveBigIntegerField(null=True, blank=True)
    modseq = models.PositiveBigIntegerField(null=True, blank=True)

    # Flags as columns: unread counts and filters are index scans, not JSON parsing.
    is_seen = models.BooleanField(default=False)
    is_flagged = models.BooleanField(default=False)
    is_answered = models.BooleanField(default=False)
    is_draft = models.BooleanField(default=False)
    is_deleted = models.BooleanField(default=False)
    keywords = models.JSONField(default=list, blank=True)

    # Envelope, enough for the message list.
    message_id = models.CharField(max_length=998, blank=True)
    in_reply_to = models.CharField(max_length=998, blank=True)
    references = models.TextField(blank=True)
    thread_key = models.CharField(max_length=64, blank=True, db_index=True)
    subject = models.TextField(blank=True)
    from_name = models.CharField(max_length=500, blank=True)
    from_address = models.CharField(max_length=500, blank=True)
    to = models.JSONField(default=list, blank=True)  # [[name, address], ...]
    cc = models.JSONField(default=list, blank=True)
    date = models.DateTimeField(null=True, blank=True)
    internal_date = models.DateTimeField(null=True, blank=True)
    size = models.PositiveBigIntegerField(default=0)

    # Derived from the raw bytes once they are stored.
    body_state = models.CharField(
        max_length=10, choices=BodyState.choices, default=BodyState.HEADERS
    )
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, null=True, blank=True)
    snippet = models.CharField(max_length=300, blank=True)
    has_attachments = models.BooleanField(default=False)
    attachment_names = models.JSONField(default=list, blank=True)
    search_text = models.TextField(blank=True)
    parse_warnings = models.JSONField(default=list, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["folder", "uidvalidity", "uid"],
                condition=Q(uid__isnull=False),
                name="message_unique_folder_uid",
            ),
        ]
        indexes = [
            # Keyset pagination of a folder's list, newest first.
            models.Index(fields=["folder", "-date", "-id"], name="message_folder_date"),
            models.Index(fields=["folder", "is_seen"], name="message_folder_seen"),
            models.Index(fields=["folder", "body_state", "-uid"], name="message_folder_body"),
            models.Index(fields=["account", "message_id"], name="message_account_msgid"),
            # The list's other sorts (webmail.mail.listing: same expressions there).
            models.Index(
                F("folder"),
                Lower(Coalesce(NullIf(F("from_name"), Value("")), F("from_address"))),
                F("id"),
                name="message_folder_sender",
            ),
            models.Index(
                F("folder"), Lower(Substr(F("subject"), 1, 200)), F("id"),
                name="message_folder_subject",
            ),
            models.Index(fields=["folder", "-size", "-id"], name="message_folder_size"),
            # Conversation view: a message's newer thread-mates and the thread's size.
            models.Index(fields=["folder", "thread_key", "date", "id"],
                         name="message_folder_thread"),
        ]

    def __str__(self) -> str:
        return self.subject or str(_("(no subject)"))


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    part_path = models.CharField(max_length=100)  # "1.2": where it lives in the raw bytes
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    content_id = models.CharField(max_length=500, blank=True)
    is_inline = models.BooleanField(default=False)

    class Meta:
        ordering = ["message_id", "id"]

    def __str__(self) -> str:
        return self.filename


class Pop3Uidl(models.Model):
    """What a POP3 account has already downloaded, and what it deleted upstream."""

    account = models.ForeignKey(MailAccount, on_delete=models.CASCADE, related_name="pop3_uidls")
    uidl = models.CharField(max_length=255)
    # True when the id is our fallback hash because the server has no UIDL.
    synthetic = models.BooleanField(default=False)
    message = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True)
    downloaded_at = models.DateTimeField()
    deleted_upstream_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "uidl"], name="pop3_unique_uidl"),
        ]

    def __str__(self) -> str:
        return self.uidl


class OperationKind(models.TextChoices):
    SET_FLAGS = "set_flags", "Set flags"
    MOVE = "move", "Move"
    COPY = "copy", "Copy"
    DELETE = "delete", "Delete"
    EXPUNGE = "expunge", "Expunge"
    CREATE_FOLDER = "create_folder", "Create folder"
    RENAME_FOLDER = "rename_folder", "Rename folder"
    DELETE_FOLDER = "delete_folder", "Delete folder"
    APPEND = "append", "Append"


class OperationState(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    CONFLICT = "conflict", "Resolved conflict"
    FAILED = "failed", "Failed"


class UpstreamOperation(models.Model):
    """A local change still to be carried to the server, replayed in id order per account."""

    account = models.ForeignKey(
        MailAccount, on_delete=models.CASCADE, related_name="upstream_operations"
    )
    kind = models.CharField(max_length=20, choices=OperationKind.choices)
    arguments = models.JSONField(default=dict)
    state = models.CharField(
        max_length=10, choices=OperationState.choices, default=OperationState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["account", "state", "id"], name="upstreamop_account_state")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.state})"


class IdleSupervisor(models.Model):
    """A running IDLE supervisor's heartbeat, so the live ones can share accounts fairly."""

    owner = models.CharField(max_length=100, unique=True)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.owner


class IdleLease(models.Model):
    """Which IDLE supervisor holds push for an account, until when (renewed while alive)."""

    account = models.OneToOneField(
        MailAccount, on_delete=models.CASCADE, primary_key=True, related_name="idle_lease"
    )
    owner = models.CharField(max_length=100, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.account_id}: {self.owner or 'free'}"


class LabelColour(models.TextChoices):
    """A fixed palette: each value is a CSS class (label-<value>); no inline styles."""

    GREY = "grey", "Grey"
    RED = "red", "Red"
    ORANGE = "orange", "Orange"
    YELLOW = "yellow", "Yellow"
    GREEN = "green", "Green"
    TEAL = "teal", "Teal"
    BLUE = "blue", "Blue"
    PURPLE = "purple", "Purple"
    PINK = "pink", "Pink"


class Label(models.Model):
    """A person's label: a name and colour for one IMAP keyword (webmail.mail.labels).

    Which messages carry it is Message.keywords, the same list the IMAP sync fills
    from the server's flags, so a label set in another client shows here and ours
    reach the server as the keyword. POP3 and local folders keep keywords only here.
    """

    owner = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=100)
    colour = models.CharField(max_length=10, choices=LabelColour.choices,
                              default=LabelColour.BLUE)
    # Fixed at creation: renaming a label must not orphan the keyword on the server.
    keyword = models.CharField(max_length=100)

    class Meta:
        ordering = ["owner_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="label_unique_name"),
            models.UniqueConstraint(fields=["owner", "keyword"], name="label_unique_keyword"),
        ]

    def __str__(self) -> str:
        return self.name


class Preferences(models.Model):
    """Personal settings (webmail.mail.preferences); a missing row means the defaults."""

    THEMES = [("system", _("System")), ("light", _("Light")), ("dark", _("Dark"))]
    DENSITIES = [("comfortable", _("Comfortable")), ("compact", _("Compact"))]
    PAGE_SIZES = [(25, "25"), (50, "50"), (100, "100")]
    REMOTE_IMAGES = [("never", _("Never")), ("ask", _("Ask")), ("always", _("Always"))]

    user = models.OneToOneField("accounts.User", on_delete=models.CASCADE,
                                related_name="mail_preferences")
    theme = models.CharField(max_length=10, choices=THEMES, default="system")
    density = models.CharField(max_length=12, choices=DENSITIES, default="comfortable")
    page_size = models.PositiveSmallIntegerField(choices=PAGE_SIZES, default=50)
    remote_images = models.CharField(max_length=6, choices=REMOTE_IMAGES, default="ask")
    # Lower-cased sender addresses whose remote images always load ("always from this sender").
    image_senders = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"preferences of {self.user_id}"


class SenderCheck(models.Model):
    """Who sent a message, as webmail.mail.authenticity found when it was first opened.

    Kept because DKIM needs DNS: a page shows this row and never waits on a lookup.
    `authserv_id` and `blob_id` are what it was computed from; a change of either (the
    account's setting, the stored bytes) makes the row stale and it is computed again.
    """

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="sender_check")
    blob_id = models.CharField(max_length=64, blank=True)
    authserv_id = models.CharField(max_length=255, blank=True)
    result = models.JSONField(default=dict)  # authenticity.to_json()
    checked_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"sender check of {self.message_id}"
