from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.conftest import make_account
from tests.mail.ui_factories import (
    make_folder,
    make_full_message,
    make_message,
    refresh_counts,
)
from webmail.mail.models import Attachment, BodyState, Folder, FolderRole, Message

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
       b"\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02"
       b"\xfe\xa7V\xbd\xfa\x00\x00\x00\x00IEND\xaeB`\x82")
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\nbinary \x00\x01\x02 bytes\n%%EOF\n"


def _raw_with_parts() -> bytes:
    import base64

    png = base64.b64encode(PNG).decode()
    pdf = base64.b64encode(PDF).decode()
    return (
        "From: Eve <eve@example.test>\r\nTo: alice@example.test\r\n"
        "Subject: Report <b>bold</b>\r\nMessage-ID: <parts@example.test>\r\n"
        "Date: Mon, 2 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="OUT"\r\n\r\n'
        "--OUT\r\nContent-Type: multipart/related; boundary=\"REL\"\r\n\r\n"
        "--REL\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        '<p onclick="x()">Hi <script>alert(1)</script><img src="cid:logo@x">'
        '<img src="https://tracker.example/p.gif"></p>\r\n'
        "--REL\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{png}\r\n--REL--\r\n"
        "--OUT\r\nContent-Type: application/pdf; name=\"a<b>\\\"x.pdf\"\r\n"
        "Content-Disposition: attachment; filename=\"../../evil<script>.pdf\"\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{pdf}\r\n--OUT--\r\n"
    ).encode()


TEXT_RAW = (
    b"From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: plain\r\n"
    b"Date: Mon, 2 Nov 2026 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    b"See https://example.org/a?b=1&c=<2> now <script>alert(1)</script>\r\n"
    b"> quoted line\r\n-- \r\nBob\r\n"
)


@pytest.fixture
def inbox(alice: User) -> Folder:
    account = make_account(alice)
    folder = make_folder(account)
    make_folder(account, "Archive", role=FolderRole.ARCHIVE)
    make_folder(account, "Trash", role=FolderRole.TRASH)
    make_folder(account, "Junk", role=FolderRole.JUNK)
    return folder


def _role(inbox: Folder, role: str) -> Folder:
    return Folder.objects.get(account=inbox.account, role=role)


# -- pages -------------------------------------------------------------------------------
def test_a_new_person_is_led_to_add_an_account(alice_client: Client) -> None:
    page = alice_client.get(reverse("home")).content.decode()
    assert "Add your first mail account" in page
    assert reverse("account_add") in page


def test_the_unified_inbox_lists_messages_with_markers(alice_client: Client, inbox: Folder) -> None:
    make_message(inbox, subject="Quarterly numbers", has_attachments=True, is_flagged=True)
    refresh_counts(inbox)
    page = alice_client.get(reverse("home")).content.decode()
    assert "Quarterly numbers" in page
    assert "Carol Sender" in page
    assert "Has attachments" in page
    assert 'class="row unread flagged"' in page
    assert "<title>(1) Inbox" in page


def test_a_script_subject_and_sender_show_as_text(alice_client: Client, inbox: Folder) -> None:
    message = make_message(inbox, subject="<script>alert(1)</script>",
                           from_name="<img src=x onerror=alert(2)>")
    for url in (reverse("folder", args=[inbox.pk]), reverse("message", args=[message.pk])):
        page = alice_client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "<img src=x" not in page


def test_htmx_requests_get_the_fragment_their_target_names(
    alice_client: Client, inbox: Folder
) -> None:
    make_message(inbox, subject="fragment me")
    url = reverse("folder", args=[inbox.pk])
    page = alice_client.get(url)
    fragment = alice_client.get(url, HTTP_HX_TARGET="list-pane", **HTMX)
    assert b"<html" in page.content
    assert b"<html" not in fragment.content and b"fragment me" in fragment.content
    assert "HX-Request" in fragment["Vary"] and "HX-Request" in page["Vary"]


def test_endless_list_pages_follow_each_other(alice_client: Client, inbox: Folder) -> None:
    for i in range(60):
        make_message(inbox, subject=f"number {i:02d}", minutes=i)
    first = alice_client.get(reverse("folder", args=[inbox.pk])).content.decode()
    assert "number 59" in first and "number 09" not in first
    more_url = _next_url(first)
    assert more_url
    rest = alice_client.get(more_url, HTTP_HX_TARGET="more-rows", **HTMX).content.decode()
    assert "number 09" in rest and "number 00" in rest and "number 59" not in rest
    assert 'id="more-rows"' not in rest


def _next_url(page: str) -> str | None:
    if 'id="more-rows"' not in page:
        return None
    start = page.index('hx-get="', page.index('id="more-rows"')) + len('hx-get="')
    return page[start:page.index('"', start)].replace("&amp;", "&")


def test_list_pages_cost_a_constant_number_of_queries(alice_client: Client, inbox: Folder) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for i in range(160):
        make_message(inbox, subject=f"m{i}", minutes=i, has_attachments=i % 2 == 0)
    url: str | None = reverse("folder", args=[inbox.pk])
    alice_client.get(url)  # first request of a session creates site settings rows
    counts, mail_counts = [], []
    while url:
        with CaptureQueriesContext(connection) as queries:
            page = alice_client.get(url, HTTP_HX_TARGET="more-rows", **HTMX).content.decode()
        counts.append(len(queries))
        # The page's own: accounts, folders (the folder is taken from them), one message
        # range, plus the person's preferences (page size) and labels (chips), once each.
        mail_counts.append(sum("mail_" in q["sql"] for q in queries.captured_queries))
        url = _next_url(page)
    assert len(counts) == 4
    assert len(set(counts[:-1])) == 1
    assert set(mail_counts[:-1]) == {4}
    # The last page also looks for undated messages (listed after every dated one).
    assert mail_counts[-1] == 5 and counts[-1] == counts[0] + 1
    # Session, user and the second-factor check (one query) before the view, and the
    # accounts (not a mail_ table).
    assert counts[0] == 3 + 1 + 4


def test_a_message_that_is_gone_says_so(alice_client: Client, inbox: Folder) -> None:
    message = make_message(inbox)
    gone_id = message.pk
    message.delete()
    response = alice_client.get(reverse("message", args=[gone_id]))
    assert response.status_code == 404
    assert "This message is not here any more" in response.content.decode()


def test_a_message_without_its_body_yet_says_so(alice_client: Client, inbox: Folder) -> None:
    message = make_message(inbox, body_state=BodyState.HEADERS)
    page = alice_client.get(reverse("message", args=[message.pk])).content.decode()
    assert "has not been downloaded yet" in page
    assert "<iframe" not in page


# -- the body frame ------------------------------------------------------------------------
def test_the_body_is_a_sandboxed_frame_with_its_own_strict_policy(
    alice_client: Client, inbox: Folder
) -> None:
    message = make_full_message(inbox, _raw_with_parts())
    reader = alice_client.get(reverse("message", args=[message.pk])).content.decode()
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in reader
    assert "allow-scripts" not in reader and "allow-same-origin" not in reader

    response = alice_client.get(reverse("message_body", args=[message.pk]))
    csp = response["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "img-src http://testserver/mail/ data:" in csp
    assert "style-src 'unsafe-inline'" in csp
    assert "frame-ancestors 'self'" in csp
    assert "script-src" not in csp
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    body = response.content.decode()
    assert "<script" not in body and "onclick" not in body
    assert "tracker.example" not in body
    assert "Remote images are hidden" in body and "Show images" in body
    assert "/cid/?cid=logo%40x" in body


def test_inline_images_are_served_from_the_stored_message(
    alice_client: Client, inbox: Folder
) -> None:
    message = make_full_message(inbox, _raw_with_parts())
    body = alice_client.get(reverse("message_body", args=[message.pk])).content.decode()
    start = body.rindex('"', 0, body.index("/cid/?")) + 1
    url = body[start:body.index('"', start)].replace("&amp;", "&")
    # The frame has an opaque origin and sends no cookie: the signed token is enough.
    response = Client().get(url)
    assert response.status_code == 200
    assert response.content == PNG
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_plain_text_is_escaped_then_linkified_with_quotes_folded(
    alice_client: Client, inbox: Folder
) -> None:
    message = make_full_message(inbox, TEXT_RAW)
    body = alice_client.get(reverse("message_body", args=[message.pk])).content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert '<a href="https://example.org/a?b=1&amp;c=%3C2%3E" rel="nofollow">' in body
    assert '<details class="quote"><summary>Quoted text</summary>&gt; quoted line' in body
    assert '<details class="signature">' in body


def test_attachments_download_unchanged_with_a_safe_name(
    alice_client: Client, inbox: Folder
) -> None:
    message = make_full_message(inbox, _raw_with_parts())
    part = Attachment.objects.get(message=message, content_type="application/pdf")
    reader = alice_client.get(reverse("message", args=[message.pk])).content.decode()
    assert "evil&lt;script&gt;" in reader or "evil_script_" in reader
    assert "<script>.pdf" not in reader
    response = alice_client.get(reverse("attachment", args=[message.pk, part.pk]))
    assert response.content == PDF
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "/" not in disposition.split("filename", 1)[1]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "application/pdf"


# -- other people's things -----------------------------------------------------------------
def test_every_url_with_an_id_is_404_for_another_person(
    bob_client: Client, inbox: Folder
) -> None:
    message = make_full_message(inbox, _raw_with_parts())
    part = Attachment.objects.filter(message=message).first()
    assert part is not None
    trash = _role(inbox, FolderRole.TRASH)
    gets = [
        reverse("folder", args=[inbox.pk]),
        reverse("message", args=[message.pk]),
        reverse("message_body", args=[message.pk]),
        reverse("message_cid", args=[message.pk]) + "?cid=logo@x",
        reverse("image_proxy", args=[message.pk]) + "?u=x",
        reverse("attachment", args=[message.pk, part.pk]),
    ]
    for url in gets:
        response = bob_client.get(url)
        assert response.status_code == 404, url
        assert b"PNG" not in response.content and b"Report" not in response.content
    assert bob_client.post(reverse("empty_folder", args=[trash.pk])).status_code == 404
    bob_client.post(reverse("message_action"), {"action": "delete", "ids": str(message.pk)})
    bob_client.post(reverse("message_action"), {"action": "move", "ids": str(message.pk),
                                                "folder": str(trash.pk)})
    message.refresh_from_db()
    assert message.folder_id == inbox.pk


def test_a_frame_token_for_one_message_opens_no_other(alice_client: Client, inbox: Folder) -> None:
    from webmail.mail.body import frame_token

    first = make_full_message(inbox, _raw_with_parts())
    second = make_full_message(inbox, TEXT_RAW)
    token = frame_token(first.account.owner_id, first.pk)
    anonymous = Client()
    assert anonymous.get(reverse("message_body", args=[first.pk]), {"t": token}).status_code == 200
    assert anonymous.get(reverse("message_body", args=[second.pk]), {"t": token}).status_code == 404
    assert anonymous.get(reverse("message_body", args=[first.pk])).status_code == 404


# -- actions ---------------------------------------------------------------------------------
def test_archive_then_undo_puts_the_message_back(alice_client: Client, inbox: Folder) -> None:
    message = make_message(inbox, subject="file me")
    response = alice_client.post(
        reverse("message_action"), {"action": "archive", "ids": str(message.pk)}, **HTMX)
    text = response.content.decode()
    assert "Archived" in text and "Undo" in text
    assert f'id="msg-{message.pk}" hx-swap-oob="delete"' in text
    message.refresh_from_db()
    assert message.folder_id == _role(inbox, FolderRole.ARCHIVE).pk
    assert Message.objects.get(pk=message.pk).folder.role == FolderRole.ARCHIVE

    undone = alice_client.post(reverse("undo"), **HTMX)
    assert "Undone: Archived" in undone.content.decode()
    assert "mailChanged" in undone["HX-Trigger"]
    message.refresh_from_db()
    assert message.folder_id == inbox.pk


def test_star_read_unread_and_spam_from_the_list(alice_client: Client, inbox: Folder) -> None:
    one, two = make_message(inbox, subject="one"), make_message(inbox, subject="two")
    ids = f"{one.pk},{two.pk}"
    alice_client.post(reverse("message_action"), {"action": "star", "ids": ids}, **HTMX)
    alice_client.post(reverse("message_action"), {"action": "read", "ids": ids}, **HTMX)
    result = alice_client.post(reverse("message_action"),
                               {"action": "unread", "ids": str(one.pk)}, **HTMX)
    assert f'id="msg-{one.pk}" class="row unread flagged"' in result.content.decode()
    assert '"unread": 1' in result["HX-Trigger"]
    one.refresh_from_db()
    two.refresh_from_db()
    assert one.is_flagged and two.is_flagged and not one.is_seen and two.is_seen
    alice_client.post(reverse("message_action"), {"action": "spam", "ids": str(two.pk)}, **HTMX)
    two.refresh_from_db()
    assert two.folder.role == FolderRole.JUNK


def test_delete_goes_to_trash_and_empty_trash_removes_it(
    alice_client: Client, inbox: Folder
) -> None:
    message = make_message(inbox)
    trash = _role(inbox, FolderRole.TRASH)
    response = alice_client.post(reverse("message_action"),
                                 {"action": "delete", "ids": str(message.pk),
                                  "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == reverse("home")
    message.refresh_from_db()
    assert message.folder_id == trash.pk
    alice_client.post(reverse("empty_folder", args=[trash.pk]), **HTMX)
    assert not Message.objects.filter(pk=message.pk).exists()


def test_move_to_a_folder_by_id(alice_client: Client, inbox: Folder) -> None:
    message = make_message(inbox)
    target = make_folder(inbox.account, "Projects")
    alice_client.post(reverse("message_action"),
                      {"action": "move", "ids": str(message.pk), "folder": str(target.pk)}, **HTMX)
    message.refresh_from_db()
    assert message.folder_id == target.pk


# -- live ---------------------------------------------------------------------------------------
def test_the_page_hears_of_new_mail_through_the_changes_endpoint(
    alice_client: Client, inbox: Folder
) -> None:
    first = alice_client.get(reverse("changes"), {"v": ""}, **HTMX)
    assert "HX-Trigger" not in first
    version = first.content.decode().split('data-version="')[1].split('"')[0]
    same = alice_client.get(reverse("changes"), {"v": version}, **HTMX)
    assert "HX-Trigger" not in same
    make_message(inbox)
    refresh_counts(inbox)
    changed = alice_client.get(reverse("changes"), {"v": version}, **HTMX)
    assert "mailChanged" in changed["HX-Trigger"] and '"unread": 1' in changed["HX-Trigger"]


def test_sync_status_shows_progress_errors_and_quota(alice_client: Client, alice: User) -> None:
    syncing = make_account(alice, sync_status="syncing", sync_progress={
        "phase": "headers", "done": 250, "total": 1000, "rate": 0.5,
        "quota": {"used": 900, "limit": 1000}})
    broken = make_account(alice, email="second@example.test", sync_status="error",
                          last_error="imap.example.test:993 refused the username or password.")
    make_folder(syncing)
    page = alice_client.get(reverse("home")).content.decode()
    assert '<progress max="1000" value="250"' in page
    assert "about 25 minutes left" in page
    assert '<meter min="0" max="1000" value="900"' in page
    assert "Wrong password or username" in page
    assert reverse("account_edit", args=[broken.pk]) in page


def test_a_list_refresh_also_refreshes_folders_and_sync_status(
    alice_client: Client, inbox: Folder
) -> None:
    account = inbox.account
    account.sync_status = "syncing"
    account.sync_progress = {"phase": "bodies", "done": 5, "total": 10, "rate": 1}
    account.save()
    fragment = alice_client.get(reverse("folder", args=[inbox.pk]),
                                HTTP_HX_TARGET="list-pane", **HTMX).content.decode()
    assert '<nav id="folders" hx-swap-oob="innerHTML">' in fragment
    assert '<progress max="10" value="5"' in fragment
    assert 'aria-current="page"' in fragment
    more = alice_client.get(reverse("folder", args=[inbox.pk]),
                            HTTP_HX_TARGET="more-rows", **HTMX).content.decode()
    assert 'id="folders"' not in more


def test_the_mailbox_speaks_french_when_the_browser_asks(
    alice_client: Client, inbox: Folder, settings  # type: ignore[no-untyped-def]
) -> None:
    from pathlib import Path

    # The wiring the settings need (LocaleMiddleware, LOCALE_PATHS), added here.
    settings.LOCALE_PATHS = [Path(settings.BASE_DIR) / "locale"]
    settings.LANGUAGES = [("en", "English"), ("fr", "Français")]
    middleware = list(settings.MIDDLEWARE)
    middleware.insert(middleware.index("django.contrib.sessions.middleware.SessionMiddleware") + 1,
                      "django.middleware.locale.LocaleMiddleware")
    settings.MIDDLEWARE = middleware
    message = make_message(inbox, subject="")
    page = alice_client.get(reverse("folder", args=[inbox.pk]),
                            HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert '<html lang="fr">' in page
    assert "Boîte de réception" in page and "Corbeille" in page
    assert ">Archiver</button>" in page and "(sans objet)" in page
    done = alice_client.post(reverse("message_action"),
                             {"action": "archive", "ids": str(message.pk)},
                             HTTP_ACCEPT_LANGUAGE="fr", **HTMX).content.decode()
    assert "Archivé" in done and "Annuler" in done
    english = alice_client.get(reverse("folder", args=[inbox.pk]),
                               HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert ">Archive</button>" in english


def test_the_conversation_view_shows_threads_with_their_size(
    alice_client: Client, inbox: Folder
) -> None:
    for i in range(60):
        make_message(inbox, subject=f"chat {i}", minutes=i, thread_key=f"k{i % 55}")
    page = alice_client.get(reverse("folder", args=[inbox.pk]), {"threads": "1"}).content.decode()
    assert 'class="thread-size"' in page and ">2</span>" in page
    assert "threads=1" in _next_url(page)  # type: ignore[operator]
    assert page.count('draggable="true"') == 50


def test_the_sort_links_name_their_sort(alice_client: Client, inbox: Folder) -> None:
    page = alice_client.get(reverse("folder", args=[inbox.pk]), {"sort": "sender"})
    text = page.content.decode()
    for label in ("Date", "Sender", "Subject", "Size"):
        assert f">{label}</a>" in text
    assert 'aria-current="true" class="current">Sender</a>' in text


def test_reply_buttons_start_a_draft_in_compose(alice_client: Client, inbox: Folder) -> None:
    message = make_message(inbox)
    page = alice_client.get(reverse("message", args=[message.pk])).content.decode()
    action = reverse("compose_reply", args=[message.pk])
    assert f'<form id="reply-form" method="post" action="{action}">' in page
    for kind in ("reply", "reply_all", "forward"):
        assert f'form="reply-form" name="kind" value="{kind}"' in page
