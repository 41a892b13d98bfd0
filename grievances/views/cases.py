"""Grievance pages: cases (see urls at the bottom)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
