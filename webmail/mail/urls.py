from __future__ import annotations

from django.urls import path

from webmail.mail import (
    views,
    views_actions,
    views_body,
    views_labels,
    views_live,
    views_sender,
    views_settings,
)

urlpatterns = [
    path("", views.home, name="home"),
    path("mail/folder/<int:folder_id>/", views.folder, name="folder"),
    path("mail/folder/<int:folder_id>/empty/", views_actions.empty_folder, name="empty_folder"),
    path("mail/message/<int:message_id>/", views.message, name="message"),
    path("mail/message/<int:message_id>/body/", views_body.message_body, name="message_body"),
    path("mail/message/<int:message_id>/sender/", views_sender.message_sender,
         name="message_sender"),
    path("mail/message/<int:message_id>/cid/", views_body.message_cid, name="message_cid"),
    path("mail/message/<int:message_id>/image/", views_body.image_proxy, name="image_proxy"),
    path(
        "mail/message/<int:message_id>/attachment/<int:attachment_id>/",
        views_body.attachment,
        name="attachment",
    ),
    path("mail/actions/", views_actions.message_action, name="message_action"),
    path("mail/undo/", views_actions.undo, name="undo"),
    path("mail/changes/", views_live.changes, name="changes"),
    path("mail/label/<int:label_id>/", views_labels.label_messages, name="label_messages"),
    path("mail/labels/apply/", views_labels.label_apply, name="label_apply"),
    path("settings/", views_settings.settings_page, name="personal_settings"),
    path("settings/images/forget/", views_settings.forget_image_sender,
         name="forget_image_sender"),
    path("settings/labels/", views_labels.label_settings, name="label_settings"),
    path("settings/labels/<int:label_id>/", views_labels.label_edit, name="label_edit"),
    path("settings/labels/<int:label_id>/delete/", views_labels.label_delete,
         name="label_delete"),
    path("mail/message/<int:message_id>/trust-images/", views_settings.trust_images,
         name="trust_images"),
]
