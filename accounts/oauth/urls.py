from __future__ import annotations

from django.urls import path

from accounts.oauth import views

urlpatterns = [
    path("accounts/connect/<int:client_id>/", views.connect, name="oauth_connect"),
    path("accounts/oauth/callback/", views.callback, name="oauth_callback"),
    path("accounts/<int:account_id>/reconnect/", views.reconnect, name="oauth_reconnect"),
    path("accounts/<int:account_id>/disconnect/", views.disconnect,
         name="oauth_disconnect"),
]
