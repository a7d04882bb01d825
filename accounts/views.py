"""A person's own mail accounts: list, add, edit, test, remove; and first-run setup."""

from __future__ import annotations

from celery.result import AsyncResult
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import actions
from accounts.access import get_mail_account_for_user
from accounts.forms import MailAccountForm, SetupForm
from accounts.models import MailAccount, User
from accounts.oauth.models import OAuthClient
from accounts.setup import create_first_admin, setup_needed
from accounts.tasks import check_account_task


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


@login_required
@require_GET
def account_list(request: HttpRequest) -> HttpResponse:
    accounts = MailAccount.objects.filter(owner=_user(request))
    return render(request, "accounts/account_list.html", {
        "accounts": accounts, "oauth_clients": OAuthClient.objects.filter(enabled=True)})


@login_required
@require_http_methods(["GET", "POST"])
def account_add(request: HttpRequest) -> HttpResponse:
    form = MailAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            account = actions.create_mail_account(owner=_user(request), form=form)
        except actions.AccountLimitReached as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Added %(email)s. Test its settings below.")
                             % {"email": account.email})
            return redirect("account_edit", account_id=account.pk)
    return render(request, "accounts/account_form.html", {"form": form, "account": None})


@login_required
@require_http_methods(["GET", "POST"])
def account_edit(request: HttpRequest, account_id: int) -> HttpResponse:
    account = get_mail_account_for_user(_user(request), account_id)
    form = MailAccountForm(request.POST or None, instance=account)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Saved."))
        return redirect("account_edit", account_id=account.pk)
    return render(request, "accounts/account_form.html", {"form": form, "account": account})


@login_required
@require_http_methods(["GET", "POST"])
def account_delete(request: HttpRequest, account_id: int) -> HttpResponse:
    account = get_mail_account_for_user(_user(request), account_id)
    if request.method == "POST":
        actions.delete_mail_account(account=account)
        messages.success(request, _("Removed %(email)s and its local copy.")
                     % {"email": account.email})
        return redirect("account_list")
    return render(request, "accounts/account_confirm_delete.html", {"account": account})


@login_required
@require_POST
def account_test(request: HttpRequest, account_id: int) -> HttpResponse:
    """Queue a connection check; the fragment polls for its result."""
    account = get_mail_account_for_user(_user(request), account_id)
    result = check_account_task.delay(account.pk, translation.get_language())
    return render(
        request,
        "accounts/partials/check_result.html",
        {"account": account, "task_id": result.id, "pending": True},
    )


@login_required
@require_GET
def account_test_result(request: HttpRequest, account_id: int, task_id: str) -> HttpResponse:
    account = get_mail_account_for_user(_user(request), account_id)
    result: AsyncResult[dict[str, object]] = AsyncResult(task_id)
    context: dict[str, object] = {"account": account, "task_id": task_id, "pending": True}
    if result.ready():
        report = result.get(propagate=False)
        if not isinstance(report, dict) or report.get("account_id") != account.pk:
            raise Http404
        context.update(pending=False, results=report["results"])
    return render(request, "accounts/partials/check_result.html", context)


@require_http_methods(["GET", "POST"])
def setup(request: HttpRequest) -> HttpResponse:
    if not setup_needed():
        raise Http404
    form = SetupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = create_first_admin(
            username=form.cleaned_data["username"],
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password"],
        )
        if user is None:
            raise Http404
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("home")
    return render(request, "accounts/setup.html", {"form": form})
