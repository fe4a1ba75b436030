"""Verify the audit hash chains. Exit 0 when intact; otherwise name the first broken event."""
import sys

from django.core.management.base import BaseCommand

from workflow.trail.audit import verify
from workflow.models import AuditEvent


class Command(BaseCommand):
    help = "Verify every audit hash chain; exits non-zero and names the first broken event."

    def handle(self, *args, **options):
        breaks = verify()
        if not breaks:
            total = AuditEvent.objects.count()
            self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {total} events verified."))
            return
        self.stderr.write(self.style.ERROR(f"Audit chain BROKEN: first break at {breaks[0]}"))
        for extra in breaks[1:20]:
            self.stderr.write(f"  also: {extra}")
        sys.exit(1)
