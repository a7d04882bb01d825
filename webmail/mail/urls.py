from __future__ import annotations

from django.urls import path

from webmail.mail import views, views_actions, views_body, views_live

urlpatterns = [
    path("", views.home, name="home"),
    path("mail/folder/<int:folder_id>/", views.folder, name="folder"),
    path("mail/folder/<int:folder_id>/empty/", views_actions.empty_folder, name="empty_folder"),
    path("mail/message/<int:message_id>/", views.message, name="message"),
    path("mail/message/<int:message_id>/body/", views_body.message_body, name="message_body"),
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
]
