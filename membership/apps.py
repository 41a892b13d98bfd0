from django.apps import AppConfig


class MembershipConfig(AppConfig):
    name = "membership"
    verbose_name = "Membership"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from membership.time_zones import remember_local_time_zone

        # Presentation, not domain logic: the session learns the local's time zone at login, so
        # no page pays a query for it (every way of logging in sends this signal).
        user_logged_in.connect(remember_local_time_zone, dispatch_uid="membership.time_zone")
