from __future__ import annotations

from django.urls import path

from accounts import views

urlpatterns = [
    path("setup/", views.setup, name="setup"),
    path("accounts/", views.account_list, name="account_list"),
    path("accounts/add/", views.account_add, name="account_add"),
    path("accounts/<int:account_id>/", views.account_edit, name="account_edit"),
    path("accounts/<int:account_id>/delete/", views.account_delete, name="account_delete"),
    path("accounts/<int:account_id>/test/", views.account_test, name="account_test"),
    path(
        "accounts/<int:account_id>/test/<str:task_id>/",
        views.account_test_result,
        name="account_test_result",
    ),
]
