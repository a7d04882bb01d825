"""French, the second complete language: the catalog is whole and the pages speak it.

The catalog test reads locale/fr/LC_MESSAGES/django.po: every msgid has a translation
and none is fuzzy (a fuzzy entry is not compiled, so its English would show). The walk
opens the main pages with French asked for by the browser and looks for English left in
what a person reads: the text and the title, aria-label and placeholder attributes.
"""

from __future__ import annotations

import ast
import re
import time
from dataclasses import dataclass
from gettext import GNUTranslations
from html.parser import HTMLParser
from pathlib import Path
from pprint import pformat

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts.models import User
from tests.conftest import make_account, make_user
from tests.mail.ui_factories import make_folder, make_message
from tests.servers.blackhole import RefusedPort
from tests.servers.dovecot import DovecotServer
from webmail.compose.drafts import new_draft
from webmail.compose.identities import identities_for_user
from webmail.mail import labels
from webmail.mail.models import FolderRole

LOCALE = Path(settings.BASE_DIR) / "locale" / "fr" / "LC_MESSAGES"
CATALOG = LOCALE / "django.po"  # templates and Python
JS_CATALOG = LOCALE / "djangojs.po"  # static/ JavaScript, served by /jsi18n/
# Words a French page never holds (checked as whole words, case-sensitive), besides
# every English msgid of the catalog itself.
ENGLISH_WORDS = {
    "the", "your", "with", "and", "Save", "Add", "Remove", "Cancel", "Send", "Search",
    "Settings", "Delete", "unread", "Unread", "Starred", "Password", "Reply", "Forward",
    "Undo", "Nothing", "Choose", "Change", "Write", "Show", "yet", "Log", "Folders",
    "Drafts", "Labels", "Sign", "Welcome", "Theme", "Comfortable", "Inbox", "Trash",
    "Sent", "Draft", "Move", "Star", "Mark", "read", "New", "Email", "Server", "server",
    "Incoming", "Outgoing", "Subject", "Name", "Enabled", "Username", "Never", "Always",
    "Light", "Dark", "System", "Close", "Open", "Back", "Next", "Previous", "Select", "all",
    "Empty", "Help", "keyboard", "shortcuts", "Loading", "Error", "of", "to", "for", "from",
    "is", "at", "by", "this", "that", "here", "there", "no", "not", "Keep", "after", "days",
}
# Our fixtures' own data (names, addresses, subjects) is not the interface.
FIXTURE_TEXT = re.compile(r"alice\S*|carol\S*|Carol Sender|\S+@\S+|Réunion de lundi")


class _Visible(HTMLParser):
    """The text a person reads or hears: text nodes and a few attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style", "template"}:
            self._skip += 1
        for name, value in attrs:
            if name in {"title", "aria-label", "placeholder", "alt"} and value:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style", "template"} and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return FIXTURE_TEXT.sub(" ", "\n".join(parser.parts))


@dataclass
class Entry:
    msgid: str
    msgstrs: list[str]
    fuzzy: bool
    context: str | None = None


def _unquote(line: str) -> str:
    return ast.literal_eval(line) if line.startswith('"') else ""


def _catalog(path: Path = CATALOG) -> list[Entry]:
    """The .po file's live entries (the header and obsolete #~ entries left out)."""
    entries = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        lines = [ln for ln in block.strip().splitlines() if not ln.startswith("#~")]
        fuzzy = any(ln.startswith("#,") and "fuzzy" in ln for ln in lines)
        fields: dict[str, str] = {}
        current = ""
        for line in lines:
            if line.startswith("#"):
                continue
            if line.startswith("msg"):
                current, _, rest = line.partition(" ")
                fields[current] = _unquote(rest)
            elif line.startswith('"') and current:
                fields[current] += _unquote(line)
        if fields.get("msgid"):
            strs = [v for k, v in fields.items() if k.startswith("msgstr")]
            entries.append(Entry(fields["msgid"], strs, fuzzy, fields.get("msgctxt")))
    return entries


@pytest.mark.parametrize("path", [CATALOG, JS_CATALOG], ids=["django", "djangojs"])
def test_every_french_message_is_translated_and_none_is_fuzzy(path: Path) -> None:
    catalog = _catalog(path)
    missing = [e.msgid for e in catalog if not all(e.msgstrs)]
    fuzzy = [e.msgid for e in catalog if e.fuzzy]
    assert missing == [], f"{len(missing)} untranslated, e.g. {missing[:10]}"
    assert fuzzy == [], f"{len(fuzzy)} fuzzy, e.g. {fuzzy[:10]}"
    compiled = path.with_suffix(".mo")  # committed; compare contents, never file times
    assert compiled.exists(), "compile it: .venv/bin/python manage.py compilemessages"
    with compiled.open("rb") as mo:
        translations = GNUTranslations(mo)
    for entry in catalog:  # the compiled file holds what the .po says
        if len(entry.msgstrs) == 1:
            found = (translations.pgettext(entry.context, entry.msgid) if entry.context
                     else translations.gettext(entry.msgid))
            assert found == entry.msgstrs[0], (
                f"{compiled.name} is stale ({entry.msgid!r}): run manage.py compilemessages")


def _english_phrases() -> set[str]:
    """The catalog's English phrases that a French page must not show as they are."""
    phrases = set()
    for entry in _catalog():
        text = entry.msgid
        if text in entry.msgstrs or "%" in text or "{" in text or "<" in text:
            continue
        if len(text.split()) >= 2:
            phrases.add(text)
    return phrases


def _english_left(html: str, phrases: set[str]) -> list[str]:
    """Each English phrase or word found, with the line of the page it is in."""
    found = []
    for line in visible_text(html).splitlines():
        # Search operators (from:, is:unread) are the query language, the same in French.
        line = re.sub(r"-?[a-z]+:\S*", " ", line)
        words = set(re.findall(r"[A-Za-z]+", line)) & ENGLISH_WORDS
        if words or any(p in line for p in phrases):
            found.append(line[:100])
    return found


@pytest.fixture
def french_world(alice: User) -> dict[str, int]:
    account = make_account(alice)
    inbox = make_folder(account)
    make_folder(account, "Corbeille", role=FolderRole.TRASH)
    make_folder(account, "Archives", role=FolderRole.ARCHIVE)
    message = make_message(inbox, subject="Réunion de lundi", snippet="Quelques mots")
    make_message(inbox, subject="", minutes=5, is_seen=True, snippet="Bonjour")
    label = labels.create_label(owner=alice, name="Travail", colour="green")
    identity = identities_for_user(alice)[0]
    draft = new_draft(owner=alice, account=account, identity=identity, to="", body_html="",
                      body_text="")
    return {"account": account.pk, "inbox": inbox.pk, "message": message.pk,
            "label": label.pk, "draft": draft.pk}


@pytest.mark.django_db
def test_the_main_pages_show_no_english_when_french_is_asked_for(
        alice_client: Client, french_world: dict[str, int]) -> None:
    ids = french_world
    pages = [
        reverse("home"), reverse("folder", args=[ids["inbox"]]),
        reverse("message", args=[ids["message"]]), reverse("message", args=[999_999]),
        reverse("label_messages", args=[ids["label"]]), reverse("label_settings"),
        reverse("personal_settings"), reverse("account_list"), reverse("account_add"),
        reverse("account_edit", args=[ids["account"]]),
        reverse("account_delete", args=[ids["account"]]),
        reverse("draft_edit", args=[ids["draft"]]), reverse("drafts"), reverse("outbox"),
        reverse("identities"), reverse("address_book"), reverse("search") + "?q=lundi",
        reverse("data_import"), reverse("twofactor_setup"), reverse("password_change"),
    ]
    phrases = _english_phrases()
    left = {}
    for url in pages:
        response = alice_client.get(url, HTTP_ACCEPT_LANGUAGE="fr")
        assert response.status_code in (200, 404), (url, response.status_code)
        assert '<html lang="fr">' in response.content.decode(), url
        english = _english_left(response.content.decode(), phrases)
        if english:
            left[url] = english
    assert left == {}, pformat(left, width=120)


@pytest.mark.django_db
def test_the_pages_before_login_show_no_english_in_french() -> None:
    phrases = _english_phrases()
    make_user("admin", is_staff=True)  # the site is set up: the login page shows
    client = Client()
    left = {}
    for url in (reverse("login"), reverse("signup"), reverse("password_reset")):
        page = client.get(url, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
        english = _english_left(page, phrases)
        if english:
            left[url] = english
    assert left == {}, pformat(left, width=120)


@pytest.mark.django_db
def test_an_action_answers_in_french(alice_client: Client, french_world: dict[str, int]) -> None:
    done = alice_client.post(reverse("label_apply"), {
        "ids": str(french_world["message"]), "label": str(french_world["label"]),
        "label_action": "add"}, HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Étiquette « Travail » ajoutée" in done and "Annuler" in done
    assert _english_left(done, _english_phrases()) == []


@pytest.mark.django_db
def test_the_javascript_catalog_speaks_french(alice: User) -> None:
    response = Client().get(reverse("javascript-catalog"), HTTP_ACCEPT_LANGUAGE="fr")
    catalog = response.content.decode()
    # JSON inside the script escapes non-ASCII characters: compare the ASCII parts.
    assert '"Saving\\u2026": "Enregistrement\\u2026"' in catalog
    assert "puis collez-le comme mot de passe" in catalog


@pytest.mark.django_db
def test_a_first_sync_shows_its_progress_in_french(alice_client: Client, alice: User) -> None:
    account = make_account(alice)
    make_folder(account)
    account.sync_status = "syncing"
    account.sync_progress = {"phase": "bodies", "folder": "INBOX", "done": 250, "total": 1000,
                             "rate": 5, "quota": {"used": 10 << 20, "limit": 100 << 20}}
    account.save()
    page = alice_client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "corps des messages" in page
    assert '<progress max="1000" value="250"' in page
    assert _english_left(page, _english_phrases()) == []


@pytest.mark.django_db
def test_a_missing_page_says_so_in_french(alice_client: Client) -> None:
    response = alice_client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 404
    assert "Cette page n’existe pas" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("query", [
    '"never closed', "(a b", "a )", "OR a", "a OR", "(a -)", "from:", "is:someday",
    "has:pets", "larger:lots", "before:someday", "x " * 70, "y" * 1001,
])
def test_a_search_it_cannot_read_is_explained_in_french(
        alice_client: Client, alice: User, query: str) -> None:
    make_folder(make_account(alice))
    page = alice_client.get(reverse("search"), {"q": query},
                            HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    found = re.search(r'<p class="error" role="alert">(.*?)</p>', page, re.S)
    assert found, page
    assert re.search(r"position|recherche", found.group(1)), found.group(1)
    assert _english_left(found.group(1), _english_phrases()) == [], found.group(1)


def _poll_check(client: Client, html: str, deadline: float = 30.0) -> str:
    """Follow the check fragment's hx-get until the results are there."""
    end = time.monotonic() + deadline
    while 'class="pending"' in html and time.monotonic() < end:
        url = html.split('hx-get="')[1].split('"')[0]
        time.sleep(0.2)
        html = client.get(url, HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="fr"
                          ).content.decode()
    return html


def test_test_settings_answers_in_french(
        celery_worker: object, running_dovecot: DovecotServer,
        refused_port: RefusedPort) -> None:
    alice = make_user("alice")
    client = Client()
    client.force_login(alice)
    # A wrong password on the IMAP server; nothing listening where SMTP should be.
    account = make_account(alice, password="not-the-password",
                           incoming_port=running_dovecot.ports.imap, incoming_username="alice",
                           smtp_host="127.0.0.1", smtp_port=refused_port.port,
                           smtp_security="none")

    html = client.post(reverse("account_test", args=[account.pk]),
                       HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    html = _poll_check(client, html)

    assert "a refusé l’identifiant ou le mot de passe de « alice »" in html
    assert f"127.0.0.1:{refused_port.port} a refusé la connexion" in html
    assert _english_left(html, _english_phrases()) == [], html


@pytest.mark.django_db
def test_the_check_words_each_kind_of_failure_in_french(
        alice: User, refused_port: RefusedPort) -> None:
    from accounts import check_messages
    from webmail.protocols import errors
    from webmail.protocols.tls import ServerEndpoint

    where = ServerEndpoint(host="mail.example.org", port=993, security="tls",
                           username="alice", password="x", timeout=5)  # noqa: S106
    raised = [
        errors.HostNotFound("x"), errors.HostNotFound("x", temporary=True),
        errors.CertificateUntrusted("x", detail="self-signed certificate"),
        errors.TLSError("x", detail="WRONG_VERSION_NUMBER"), errors.ConnectTimeout("x"),
        errors.ConnectionRefused("x"), errors.HostUnreachable("x"), errors.ConnectionLost("x"),
        errors.AuthenticationFailed("x"), errors.AuthenticationFailed(
            "x", code=530, server_text="5.7.0 Authentication required"),
        errors.MissingCapability("x", capability="STARTTLS"),
        errors.MissingCapability("x", capability="AUTH"),
        errors.MissingCapability("x", capability="IMAP4rev1"),
        errors.ProtocolViolation("x"),
        errors.TemporaryServerError("x", code=421, server_text="busy"),
        errors.PermanentServerError("x", code=554, server_text="5.7.1 Rejet"),
    ]
    phrases = _english_phrases()
    with translation.override("fr"):
        said = {type(exc).__name__ + str(n): check_messages.explain(exc, kind="IMAP",
                                                                     endpoint=where)
                for n, exc in enumerate(raised)}
        said["success"] = check_messages.logged_in("IMAP", where)
        said["no login"] = check_messages.connected_without_login(where)
        said["password"] = check_messages.undecryptable("incoming")
    english = {name: text for name, text in said.items()
               if text == "x" or _english_left(text, phrases)}
    assert english == {}, pformat(english, width=120)
