"""SMS backends. Production plugs in a gateway (e.g. a government messaging platform) by
setting DUBAN_SMS_BACKEND to a dotted path of a class with the same `send` method."""
import abc
import sys

from django.conf import settings
from django.utils.module_loading import import_string


class BaseSmsBackend(abc.ABC):
    """Send one text message; raise on failure so the outbox retries it."""

    @abc.abstractmethod
    def send(self, phone: str, text: str) -> None:
        """Deliver `text` to `phone` or raise."""


class ConsoleSmsBackend(BaseSmsBackend):
    """Writes messages to standard output, for development and demos."""

    def send(self, phone: str, text: str) -> None:
        if not phone:
            raise ValueError("no mobile phone number on record")
        sys.stdout.write(f"[SMS to {phone}] {text}\n")
        sys.stdout.flush()


class LocmemSmsBackend(BaseSmsBackend):
    """Keeps messages in memory, for tests."""

    outbox: list[tuple[str, str]] = []

    def send(self, phone: str, text: str) -> None:
        if not phone:
            raise ValueError("no mobile phone number on record")
        self.outbox.append((phone, text))


def get_sms_backend() -> BaseSmsBackend:
    return import_string(settings.DUBAN_SMS_BACKEND)()
