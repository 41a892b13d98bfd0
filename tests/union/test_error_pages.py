from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path
from pytest_django import Settings

from union import urls as project_urls

if TYPE_CHECKING:
    from tests.base import Personas


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("boom")


urlpatterns = [*project_urls.urlpatterns, path("boom/", boom)]
handler404 = project_urls.handler404
handler500 = project_urls.handler500


@pytest.mark.django_db
def test_the_404_page_is_friendly_and_translated(client: Client) -> None:
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert b"not yours to see" in response.content and b'<main id="main"' in response.content
    response = client.get("/no/such/page/", HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 404 and b'lang="fr"' in response.content


@pytest.mark.django_db
@pytest.mark.urls("tests.union.test_error_pages")
def test_the_500_page_stands_alone(settings: Settings) -> None:
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    response = client.get("/boom/")
    assert response.status_code == 500
    assert b"Something went wrong" in response.content and b"boom" not in response.content


def test_the_403_page_explains_itself(client: Client, personas: Personas) -> None:
    from django.urls import reverse

    from tests.base import login_as
    from tests.grievances.factories import make_case

    case = make_case(personas)
    response = login_as(client, personas.representative).post(
        reverse("grievances:case_event_add", kwargs={"code": case.code}), {"kind": "note", "body": "x"})
    assert response.status_code == 403
    assert b"your role does not let you change it" in response.content and b'<main id="main"' in response.content
