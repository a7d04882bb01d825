from __future__ import annotations

from django.urls import include, path

from accounts import signup_views, twofactor_views, views

urlpatterns = [
    path("", include("accounts.oauth.urls")),
    path("setup/", views.setup, name="setup"),
    path("signup/", signup_views.signup_view, name="signup"),
    path("2fa/setup/", twofactor_views.setup, name="twofactor_setup"),
    path("2fa/verify/", twofactor_views.verify, name="twofactor_verify"),
    path("2fa/codes/", twofactor_views.new_codes, name="twofactor_new_codes"),
    path("2fa/disable/", twofactor_views.disable, name="twofactor_disable"),
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
