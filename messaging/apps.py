from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"

    def ready(self) -> None:
        from messaging.receivers import tell_rooms_of_roll_change
        from union.signals import roll_changed

        roll_changed.connect(tell_rooms_of_roll_change, dispatch_uid="messaging.roll_changed")
