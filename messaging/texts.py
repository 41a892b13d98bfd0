"""Every string chat.js shows, translated on the server and handed to the page as JSON.

There is no JavaScript catalogue: the page's JSON block (json_script) carries these in the
reader's language. Placeholders in braces ({name}) are filled in by the script, as text.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import pgettext


def chat_texts() -> dict[str, str]:
    return {
        "unsupported": _("This browser cannot open encrypted rooms. Update it: Chrome or Edge 137, Firefox 130 "
                         "or Safari 17, or newer."),
        "noAccount": _("This browser has no encryption keys for your account yet. Set them up first, then "
                       "come back to this room."),
        "broken": _("The room's history could not be verified, so nothing is shown. Tell an officer: the "
                    "server may have been tampered with."),
        "online": _("Connected"),
        "reconnecting": _("Connection lost. Reconnecting…"),
        "offline": _("Offline. What you write is kept and sent when the connection returns."),
        "pending": _("Sending…"),
        "failed": _("Not sent."),
        "retry": _("Retry"),
        "reply": _("Reply"),
        "edit": _("Edit"),
        "delete": _("Delete"),
        "cancel": _("Cancel"),
        "replyingTo": _("Replying to {name}"),
        "editing": _("Editing your message"),
        "deleted": _("This message was deleted."),
        "edited": _("(edited)"),
        "show": _("Sensitive content. Show it"),
        "hide": _("Hide it again"),
        "sensitive": _("Sensitive"),
        "undecryptable": _("This message cannot be decrypted on this browser."),
        "noKey": _("This browser has no key for this part of the room's history."),
        "missing": _("Messages from {name} are missing: the server may have held some back."),
        "someone": _("Someone no longer in the room"),
        "you": _("You"),
        "beforeRotation": _("sent before the room's keys changed"),
        "confirmDelete": _("Delete this message for everyone in the room?"),
        "rotating": _("Updating who is in the room…"),
        "rotated": _("Done: the room has new keys, and only the people now in it can read what comes next."),
        "myDevices": _("Your devices changed: this browser gave the room new keys for your current devices."),
        "rotateFailed": _("The room could not be updated. Reload the page and try again."),
        "starting": _("Starting the room…"),
        "notReady": _("Waiting for {n} of them to set up encryption on a device; they can be added after that."),
        "noMessages": _("No messages yet."),
        "tooLong": _("This message is too long. Split it in parts."),
        "removed": _("You are no longer in this room."),
        # Why a message was not sent, by the code of the socket's error frame (messaging/consumers.py).
        "failedFrame": _("Not sent: the server could not read what this page sent. Reload the page."),
        "failedTooLarge": _("Not sent: this message is too large."),
        "failedRate": _("Not sent: too many messages at once. Wait a moment, then retry."),
        "failedRoom": _("Not sent: you can no longer post in this room."),
        "failedStale": _("Not sent: the room's keys changed meanwhile. Retry."),
        "failedRefused": _("Not sent: the server refused this message. Reload the page, then retry."),
        # How the page puts words together, which each language does its own way.
        "parenthetical": _("({text})"),
        "quoted": _("{name}: {text}"),
        "listSeparator": pgettext("between the names of a list", ", "),
    }
