from django.apps import AppConfig


class UnionConfig(AppConfig):
    name = "union"
    verbose_name = "Tessera core"
