from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from webmail.compose import address_book_views, views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.compose, name="compose"),
    path("reply/<int:message_id>/", views.reply, name="compose_reply"),
    path("drafts/", views.drafts, name="drafts"),
    path("draft/<int:draft_id>/", views.draft_edit, name="draft_edit"),
    path("draft/<int:draft_id>/save/", views.draft_save, name="draft_save"),
    path("draft/<int:draft_id>/send/", views.draft_send, name="draft_send"),
    path("draft/<int:draft_id>/discard/", views.draft_discard, name="draft_discard"),
    path("draft/<int:draft_id>/attachments/", views.attachment_upload,
         name="draft_attachment_upload"),
    path("draft/<int:draft_id>/attachments/<int:attachment_id>/delete/",
         views.attachment_delete, name="draft_attachment_delete"),
    path("outbox/", views.outbox_list, name="outbox"),
    path("outbox/<int:outbox_id>/undo/", views.outbox_undo, name="outbox_undo"),
    path("outbox/<int:outbox_id>/resolve/", views.outbox_resolve, name="outbox_resolve"),
    path("contacts/", views.contacts, name="compose_contacts"),
    path("address-book/", address_book_views.address_book_page, name="address_book"),
    path("address-book/<int:contact_id>/delete/", address_book_views.contact_delete,
         name="contact_delete"),
    path("identities/", views.identities, name="identities"),
    path("identities/<int:identity_id>/", views.identities, name="identity_edit"),
]
