"""A small mailbox whose answers are known, stored as the sync engines store rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from accounts.models import MailAccount, User
from tests.conftest import make_account
from webmail.mail.models import BodyState, Folder, FolderRole, Message


def make_folder(account: MailAccount, name: str = "INBOX", role: str = "") -> Folder:
    if not role and name == "INBOX":
        role = FolderRole.INBOX
    return Folder.objects.create(account=account, name=name, role=role)


def make_message(folder: Folder, subject: str, body: str = "", *, day: str = "2024-03-10",
                 sender: tuple[str, str] = ("Carol Sender", "carol@example.test"),
                 **fields: Any) -> Message:
    """A stored message; search_text built like the parser's (subject, people, body)."""
    to = fields.pop("to", [["Test User", "user@example.test"]])
    names = fields.pop("attachment_names", [])
    people = " ".join(f"{n} <{a}>" for n, a in [sender, *to])
    values: dict[str, Any] = {
        "from_name": sender[0], "from_address": sender[1], "to": to,
        "date": datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC),
        "size": 2000, "body_state": BodyState.FULL, "attachment_names": names,
        "has_attachments": bool(names), "snippet": body[:100],
        "search_text": "\n".join([subject, people, body, *names]),
    }
    values.update(fields)
    return Message.objects.create(account=folder.account, folder=folder, subject=subject,
                                  **values)


def known_mailbox(owner: User) -> dict[str, Message]:
    """Alice's mailbox: two accounts, a few folders, messages chosen to separate every
    operator from the others."""
    work = make_account(owner, email="alice@work.example", display_name="Work")
    home = make_account(owner, email="alice@home.example", display_name="Home")
    inbox, sent = make_folder(work), make_folder(work, "Sent", FolderRole.SENT)
    trash = make_folder(work, "Trash", FolderRole.TRASH)
    projects = make_folder(work, "Projects/Alpha")
    home_inbox = make_folder(home)
    return {
        "budget": make_message(
            inbox, "Quarterly budget review", "Please review the budget numbers before "
            "the meeting on Friday. The quarterly report is attached.",
            day="2024-01-15", sender=("Bob Builder", "bob@builder.example"),
            attachment_names=["budget-2024.pdf"], size=250_000, is_seen=True),
        "meetings": make_message(
            inbox, "Meetings next week", "Three meetings are planned: design, roadmap "
            "and a lunch with the customer.", day="2024-02-20",
            sender=("Dave", "dave@example.com"), is_flagged=True,
            cc=[["Bob Builder", "bob@builder.example"]]),
        "german": make_message(
            inbox, "Versicherung", "Die Rechtsschutzversicherungsgesellschaften schreiben "
            "wegen der Kraftfahrzeughaftpflichtversicherung. Größe und Straße.",
            day="2024-03-01", sender=("Jürgen Groß", "juergen@grosse.example")),
        "french": make_message(
            inbox, "Crème brûlée au café", "Le garçon a goûté la crème brûlée, très "
            "naïve façade.", day="2024-03-05", sender=("François Dupont", "f@example.fr")),
        "russian": make_message(
            home_inbox, "Встреча в понедельник", "Привет! Отчёт и бюджет проекта "
            "будут готовы завтра. Спасибо.", day="2024-04-02",
            sender=("Иван Петров", "ivan@example.ru")),
        "japanese": make_message(
            home_inbox, "会議の予定について", "来週の会議の予定を確認してください。"
            "報告書を添付します。", day="2024-04-10", sender=("山田太郎", "yamada@example.jp"),
            attachment_names=["資料_12.pdf"], has_attachments=True, size=80_000),
        "sent": make_message(
            sent, "Re: Quarterly budget review", "Thanks, the budget looks fine to me. "
            "See you at the meeting.", day="2024-01-16",
            sender=("Alice", "alice@work.example"),
            to=[["Bob Builder", "bob@builder.example"]], is_seen=True),
        "invoice": make_message(
            projects, "Invoice 2024-117", "Invoice for the Alpha project prototype, "
            "payment due in thirty days.", day="2024-05-01",
            sender=("Shop Deals", "deals@shop.example.net"),
            attachment_names=["invoice_117.pdf"], size=40_000),
        "trashed": make_message(
            trash, "Old budget draft", "An old draft of the budget.", day="2023-12-01",
            sender=("Bob Builder", "bob@builder.example")),
        "pending": make_message(
            home_inbox, "Holiday photos", "", day="2024-06-01",
            sender=("Carol O'Neil", "carol@example.ie"), body_state=BodyState.HEADERS,
            search_text=""),
    }
