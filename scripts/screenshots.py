"""Screenshots of the main screens: desktop and phone width, light and dark.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Builds a throwaway site (SQLite and blobs in a temporary directory) with one person,
one account and a few dozen generated messages stored the way a sync stores them,
serves it on loopback, and drives Debian's chromium (/usr/bin/chromium, never
`playwright install`) through the list, a message and the account form. The generated
mail has Japanese and Chinese text: without a CJK font on the machine it shows as boxes
(Debian: `apt-get install fonts-wqy-microhei`, 1.6 MB).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SIZES = {"desktop": (1280, 800), "phone": (360, 740)}
PASSWORD = "screenshots only"  # noqa: S105 - a throwaway local site


def setup_site() -> None:
    data = tempfile.mkdtemp(prefix="webmail-shots-")
    os.environ.update({
        "WEBMAIL_HTTPS": "false", "WEBMAIL_DATA_DIR": data, "DEBUG": "false",
        "DATABASE_URL": f"sqlite:///{data}/site.sqlite3",
        "DJANGO_SETTINGS_MODULE": "webmail.settings",
        "DJANGO_ALLOW_ASYNC_UNSAFE": "true",
    })
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    settings.STORAGES["staticfiles"] = {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    call_command("migrate", verbosity=0)


def fill_store() -> None:
    from accounts.models import MailAccount, User
    from bench.generator import generate_mailbox
    from webmail.mail.ingest import store_full_message
    from webmail.mail.models import Folder, Message

    user = User.objects.create_superuser("alice", "alice@example.test", PASSWORD)
    account = MailAccount(owner=user, email="alice@example.test", display_name="Alice",
                          incoming_host="imap.example.test", incoming_username="alice",
                          sync_status="ok", last_sync_at=datetime.now(tz=UTC),
                          sync_progress={"quota": {"used": 1_800_000_000,
                                                   "limit": 2_500_000_000}})
    account.set_incoming_password("unused")
    account.save()
    second = MailAccount(owner=user, email="alice@work.example", display_name="Work",
                         incoming_host="mail.work.example", incoming_username="alice",
                         sync_status="syncing",
                         sync_progress={"phase": "bodies", "done": 1840, "total": 5200,
                                        "rate": 38.5})
    second.set_incoming_password("unused")
    second.save()
    roles = [("INBOX", "inbox"), ("Drafts", "drafts"), ("Sent", "sent"),
             ("Archive", "archive"), ("Junk", "junk"), ("Trash", "trash"),
             ("Projects", ""), ("Projects/Garden", "")]
    folders = {name: Folder.objects.create(account=account, name=name, role=role)
               for name, role in roles}
    Folder.objects.create(account=second, name="INBOX", role="inbox")
    now = datetime.now(tz=UTC)
    for i, raw in enumerate(generate_mailbox(40, seed=3)):
        folder = folders["INBOX"] if i < 32 else folders["Projects/Garden"]
        message = Message.objects.create(account=account, folder=folder,
                                         internal_date=now - timedelta(hours=i * 7))
        store_full_message(message, raw)
        Message.objects.filter(pk=message.pk).update(
            date=now - timedelta(hours=i * 7), is_seen=i % 3 != 0, is_flagged=i % 7 == 2)
    for folder in Folder.objects.all():
        folder.total_count = Message.objects.filter(folder=folder).count()
        folder.unread_count = Message.objects.filter(folder=folder, is_seen=False).count()
        folder.save()


def shoot(base: str, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    from webmail.mail.models import Message

    first = Message.objects.filter(folder__name="INBOX").order_by("-date").first()
    assert first is not None
    made = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for size, (width, height) in SIZES.items():
            for scheme in ("light", "dark"):
                context = browser.new_context(viewport={"width": width, "height": height},
                                              color_scheme=scheme, timezone_id="Europe/Paris")
                page = context.new_page()
                page.goto(f"{base}/login/")
                page.fill("#id_username", "alice")
                page.fill("#id_password", PASSWORD)
                page.click("form.card button[type=submit]")
                page.wait_for_selector("#message-rows > .row")
                shots: list[tuple[str, Any]] = [("inbox", None),
                                                ("message", f"/mail/message/{first.pk}/"),
                                                ("account-form", "/accounts/add/")]
                for name, path in shots:
                    if path:
                        page.goto(base + path)
                    if name == "message":
                        page.wait_for_selector("#reader iframe.body-frame")
                        page.wait_for_timeout(300)
                    target = out / f"{name}-{size}-{scheme}.png"
                    page.screenshot(path=str(target))
                    made.append(target)
                context.close()
        browser.close()
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit("screenshots need Debian's chromium: apt-get install -y chromium")
    setup_site()
    fill_store()
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.test.testcases import LiveServerThread

    server = LiveServerThread("127.0.0.1", StaticFilesHandler, port=0)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    if server.error:
        raise server.error
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        for path in shoot(f"http://127.0.0.1:{server.port}", out):
            print(path)
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
