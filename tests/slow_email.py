"""A test-only email backend for worker processes started by the tests.

Each message takes DUBAN_SLOW_EMAIL_SECONDS (default 0.5) to "send", so a test can kill the
worker in the middle of a relay; each sent message is then appended as one JSON line to
DUBAN_SLOW_EMAIL_LOG, so the test can count what really went out.
"""
import json
import os
import time

from django.core.mail.backends.base import BaseEmailBackend


class SlowEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        delay = float(os.environ.get("DUBAN_SLOW_EMAIL_SECONDS", "0.5"))
        log = os.environ.get("DUBAN_SLOW_EMAIL_LOG", "")
        sent = 0
        for message in email_messages:
            time.sleep(delay)  # the kill lands here, before the message goes out
            if log:
                line = json.dumps({"to": list(message.to), "subject": message.subject, "pid": os.getpid()},
                                  ensure_ascii=False)
                with open(log, "a", encoding="utf-8") as handle:
                    handle.write(line + "\n")
            sent += 1
        return sent


def read_log(path) -> list[dict]:
    """The messages a SlowEmailBackend has sent, in order."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
