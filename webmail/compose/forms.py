"""The compose form: what the editor page posts on autosave and on send."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from webmail.compose.headers import MAX_SUBJECT, HeaderValueError, clean_address, clean_name
from webmail.compose.identities import identities_for_user
from webmail.compose.models import Identity

MAX_BODY = 5 * 1024 * 1024  # characters; a longer body belongs in an attachment
MAX_RECIPIENT_TEXT = 20_000


class DraftForm(forms.Form):
    identity = forms.ModelChoiceField(queryset=Identity.objects.none(), required=False,
                                      label="From")
    to = forms.CharField(required=False, max_length=MAX_RECIPIENT_TEXT)
    cc = forms.CharField(required=False, max_length=MAX_RECIPIENT_TEXT)
    bcc = forms.CharField(required=False, max_length=MAX_RECIPIENT_TEXT)
    # The length limit of a header is checked (with line breaks) when sending; a draft
    # may hold anything typed so far.
    subject = forms.CharField(required=False, max_length=MAX_SUBJECT * 2, strip=False)
    body_html = forms.CharField(required=False, max_length=MAX_BODY, strip=False)
    body_text = forms.CharField(required=False, max_length=MAX_BODY, strip=False)
    plain_text = forms.BooleanField(required=False)
    send_at = forms.DateTimeField(required=False, label="Send later at")

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ids = [i.pk for i in identities_for_user(user)]
        field = self.fields["identity"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Identity.objects.filter(pk__in=ids).select_related("account")

    def clean_send_at(self) -> Any:
        value = self.cleaned_data.get("send_at")
        if value is not None and value <= timezone.now():
            return None  # a time already past means "now"
        return value

    def draft_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        fields = {name: data[name] for name in
                  ("to", "cc", "bcc", "subject", "body_html", "body_text", "plain_text")}
        if data.get("identity") is not None:
            fields["identity"] = data["identity"]
        return fields


class IdentityForm(forms.ModelForm[Identity]):
    class Meta:
        model = Identity
        fields = ("account", "name", "address", "reply_to", "signature_text",
                  "signature_html", "is_default", "sent_copy")
        labels = {"account": _("Account"), "name": _("Name"), "address": _("Address"),
                  "reply_to": _("Reply-To address"),
                  "signature_text": _("Signature (plain text)"),
                  "signature_html": _("Signature (formatted)"),
                  "is_default": _("Default identity"), "sent_copy": _("Copy in Sent")}
        widgets = {"signature_text": forms.Textarea(attrs={"rows": 4}),
                   "signature_html": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from accounts.models import MailAccount

        field = self.fields["account"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = MailAccount.objects.filter(owner=user)

    def clean_name(self) -> str:
        return _checked(lambda: clean_name(self.cleaned_data["name"]))

    def clean_address(self) -> str:
        return _checked(lambda: clean_address(self.cleaned_data["address"]))

    def clean_reply_to(self) -> str:
        value = self.cleaned_data["reply_to"]
        return _checked(lambda: clean_address(value)) if value else ""

    def clean_signature_html(self) -> str:
        from webmail.compose.drafts import clean_html

        return clean_html(self.cleaned_data["signature_html"])


def _checked(check: Any) -> str:
    try:
        return str(check())
    except HeaderValueError as exc:
        raise forms.ValidationError(exc.message) from exc
