from __future__ import annotations

from django.urls import path

from webmail.search import views

urlpatterns = [
    path("", views.search, name="search"),
]
