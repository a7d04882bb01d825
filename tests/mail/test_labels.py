"""Labels: created and coloured by the person, on messages as keywords, shown and filtered."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import MailAccount, Protocol, User
from tests.conftest import make_account, make_user
from tests.mail.ui_factories import make_folder, make_message
from tests.servers.dovecot import DovecotServer
from tests.sync.test_operations import client_factory_for, mirror, raw_message
from webmail.mail import actions, labels
from webmail.mail.models import Folder, Label, Message, OperationState, UpstreamOperation
from webmail.sync.operations import replay_operations

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def inbox(alice: User) -> Folder:
    return make_folder(make_account(alice))


def _label(owner: User, name: str = "Work", colour: str = "green") -> Label:
    return labels.create_label(owner=owner, name=name, colour=colour)


def test_a_label_gets_a_keyword_spelled_from_its_name_and_unique_per_person(
        alice: User) -> None:
    first = _label(alice, "Büro 2026")
    second = _label(alice, "büro 2026!")
    assert first.keyword == "buro_2026"
    assert second.keyword == "buro_2026_2"
    with pytest.raises(labels.LabelError):
        _label(alice, "BÜRO 2026")
    with pytest.raises(labels.LabelError):
        labels.create_label(owner=alice, name="x", colour="chartreuse")


def test_the_person_creates_renames_recolours_and_deletes_labels_on_the_settings_page(
        alice_client: Client, alice: User, inbox: Folder) -> None:
    response = alice_client.post(reverse("label_settings"), {"name": "Travel", "colour": "red"})
    assert response.status_code == 302
    label = Label.objects.get(owner=alice)
    page = alice_client.get(reverse("label_settings")).content.decode()
    assert 'class="chip label-red">Travel<' in page

    alice_client.post(reverse("label_edit", args=[label.pk]), {"name": "Trips", "colour": "teal"})
    label.refresh_from_db()
    assert (label.name, label.colour, label.keyword) == ("Trips", "teal", "travel")

    message = make_message(inbox)
    actions.add_label(messages=[message], label=label)
    alice_client.post(reverse("label_delete", args=[label.pk]))
    message.refresh_from_db()
    assert not Label.objects.filter(owner=alice).exists()
    assert message.keywords == []


def test_labels_show_as_chips_in_the_list_and_the_reader_and_filter_in_the_sidebar(
        alice_client: Client, alice: User, inbox: Folder) -> None:
    work = _label(alice, "Work", "green")
    tagged = make_message(inbox, subject="tagged one", minutes=1)
    make_message(inbox, subject="plain one", minutes=2)
    response = alice_client.post(reverse("label_apply"), {
        "ids": str(tagged.pk), "label": str(work.pk), "label_action": "add"}, **HTMX)
    assert "Labelled" in response.content.decode()
    assert 'class="chip label-green">Work<' in response.content.decode()  # the row swapped

    listing = alice_client.get(reverse("home")).content.decode()
    assert 'class="chip label-green">Work<' in listing
    assert reverse("label_messages", args=[work.pk]) in listing  # the sidebar's label view
    reader = alice_client.get(reverse("message", args=[tagged.pk])).content.decode()
    assert 'label-green" href="' in reader

    filtered = alice_client.get(reverse("label_messages", args=[work.pk])).content.decode()
    assert "tagged one" in filtered and "plain one" not in filtered

    alice_client.post(reverse("label_apply"), {
        "ids": str(tagged.pk), "label": str(work.pk), "label_action": "remove"}, **HTMX)
    filtered = alice_client.get(reverse("label_messages", args=[work.pk])).content.decode()
    assert "tagged one" not in filtered


def test_a_label_is_one_of_several_and_keeps_other_keywords(alice: User, inbox: Folder) -> None:
    message = make_message(inbox, keywords=["$Forwarded"])
    work, home = _label(alice, "Work"), _label(alice, "Home")
    assert actions.add_label(messages=[message], label=work) == 1
    assert actions.add_label(messages=[message], label=home) == 1
    assert actions.add_label(messages=[message], label=home) == 0
    message.refresh_from_db()
    assert message.keywords == ["$Forwarded", "home", "work"]
    assert [lb.name for lb in labels.chips(message, {"home": home, "work": work})] == [
        "Home", "Work"]


def test_bob_cannot_see_use_or_change_alices_labels(
        alice: User, bob_client: Client, inbox: Folder) -> None:
    label = _label(alice, "Secret")
    message = make_message(inbox)
    assert bob_client.get(reverse("label_messages", args=[label.pk])).status_code == 404
    assert bob_client.post(reverse("label_edit", args=[label.pk]),
                           {"name": "mine", "colour": "red"}).status_code == 404
    assert bob_client.post(reverse("label_delete", args=[label.pk])).status_code == 404
    bob_client.post(reverse("label_apply"), {
        "ids": str(message.pk), "label": str(label.pk), "label_action": "add"}, **HTMX)
    message.refresh_from_db()
    label.refresh_from_db()
    assert message.keywords == [] and label.name == "Secret"
    assert "Secret" not in bob_client.get(reverse("label_settings")).content.decode()


def test_a_label_on_a_pop3_account_stays_local(alice: User) -> None:
    account = make_account(alice, email="pop@example.test", protocol=Protocol.POP3)
    message = make_message(make_folder(account, local_only=True))
    assert actions.add_label(messages=[message], label=_label(alice)) == 1
    message.refresh_from_db()
    assert message.keywords == ["work"]
    assert not UpstreamOperation.objects.filter(account=account).exists()


@pytest.fixture
def imap_account(dovecot_user: str, running_dovecot: DovecotServer) -> MailAccount:
    owner = make_user("alice")
    account = make_account(owner, password=running_dovecot.users["alice"])
    account.incoming_port = running_dovecot.ports.imap
    account.save()
    return account


def test_a_label_added_locally_reaches_dovecot_as_a_keyword_after_replay(
        imap_account: MailAccount, running_dovecot: DovecotServer) -> None:
    running_dovecot.deliver_many("alice", [raw_message(1), raw_message(2)])
    mirror(imap_account, running_dovecot)
    first, _second = Message.objects.filter(account=imap_account).order_by("uid")
    label = _label(imap_account.owner, "Work")
    replay: Callable[[], object] = lambda: replay_operations(  # noqa: E731
        imap_account.pk, client_factory=client_factory_for(running_dovecot), force=True)

    actions.add_label(messages=[first], label=label)
    assert running_dovecot.flags("alice") == [set(), set()]
    replay()
    assert running_dovecot.flags("alice") == [{"work"}, set()]
    assert {o.state for o in UpstreamOperation.objects.filter(account=imap_account)} == {
        OperationState.DONE}

    actions.remove_label(messages=[first], label=label)
    replay()
    assert running_dovecot.flags("alice") == [set(), set()]


def test_a_label_the_server_refuses_stays_local_and_survives_a_sync(
        imap_account: MailAccount, running_dovecot: DovecotServer) -> None:
    from tests.sync.test_imap import run_sync

    running_dovecot.deliver_many("alice", [raw_message(1), raw_message(2)])
    mirror(imap_account, running_dovecot)
    first, second = Message.objects.filter(account=imap_account).order_by("uid")
    # Longer than Dovecot's mail_max_keyword_length: it answers NO [CANNOT].
    label = Label.objects.create(owner=imap_account.owner, name="Long", keyword="k" * 60)
    actions.add_label(messages=[first], label=label)
    actions.flag(messages=[first])
    replay_operations(imap_account.pk, client_factory=client_factory_for(running_dovecot),
                      force=True)

    assert running_dovecot.flags("alice") == [{"\\Flagged"}, set()]
    inbox = Folder.objects.get(account=imap_account, name="INBOX")
    assert inbox.local_keywords == ["k" * 60]
    operation = UpstreamOperation.objects.filter(account=imap_account).first()
    assert operation is not None and operation.state == OperationState.DONE
    assert "stays here only" in operation.last_error

    run_sync(imap_account, client_factory=client_factory_for(running_dovecot))
    with running_dovecot.imap("alice") as conn:  # a change made in another client
        conn.select("INBOX")
        conn.uid("STORE", str(first.uid), "+FLAGS", "(\\Seen)")
    run_sync(imap_account, client_factory=client_factory_for(running_dovecot))
    first.refresh_from_db()
    assert first.is_seen and first.keywords == ["k" * 60]

    assert actions.add_label(messages=[second], label=label) == 1
    assert not UpstreamOperation.objects.filter(
        account=imap_account, state=OperationState.PENDING).exists()


def test_undo_takes_back_the_last_label_change_here_and_on_dovecot(
        imap_account: MailAccount, running_dovecot: DovecotServer) -> None:
    running_dovecot.deliver_many("alice", [raw_message(1), raw_message(2)])
    mirror(imap_account, running_dovecot)
    first, second = Message.objects.filter(account=imap_account).order_by("uid")
    label = _label(imap_account.owner, "Work")
    actions.add_label(messages=[second], label=label)  # already labelled: undo leaves it
    client = Client()
    client.force_login(imap_account.owner)
    replay: Callable[[], object] = lambda: replay_operations(  # noqa: E731
        imap_account.pk, client_factory=client_factory_for(running_dovecot), force=True)

    page = client.post(reverse("label_apply"), {
        "ids": f"{first.pk},{second.pk}", "label": str(label.pk), "label_action": "add"},
        **HTMX).content.decode()
    assert "Labelled “Work”" in page and "Undo" in page
    replay()
    assert running_dovecot.flags("alice") == [{"work"}, {"work"}]

    page = client.post(reverse("undo"), **HTMX).content.decode()
    assert "Undone: Labelled “Work”" in page
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.keywords, second.keywords) == ([], ["work"])
    replay()
    assert running_dovecot.flags("alice") == [set(), {"work"}]

    client.post(reverse("label_apply"), {
        "ids": str(second.pk), "label": str(label.pk), "label_action": "remove"}, **HTMX)
    client.post(reverse("undo"), **HTMX)
    second.refresh_from_db()
    assert second.keywords == ["work"]
    assert "Nothing to undo" in client.post(reverse("undo"), **HTMX).content.decode()


def test_the_label_view_finds_exactly_the_labelled_messages(alice: User, inbox: Folder) -> None:
    work, workshop = _label(alice, "Work"), _label(alice, "Workshop")
    tagged = make_message(inbox, keywords=["$Forwarded", "work"])
    make_message(inbox, keywords=["workshop"])
    make_message(inbox, keywords=["WORK-x"])
    assert list(labels.messages_with_label(work)) == [tagged]
    assert labels.messages_with_label(workshop).count() == 1
