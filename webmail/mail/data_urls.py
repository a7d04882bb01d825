from __future__ import annotations

from django.urls import path

from webmail.mail import data_views

urlpatterns = [
    path("export/", data_views.export_mail, name="data_export"),
    path("import/", data_views.import_mail, name="data_import"),
]
