"""Run the escalation sweep now (the worker's beat runs it every minute)."""
from django.core.management.base import BaseCommand

from workflow.cases.escalation import sweep


class Command(BaseCommand):
    help = "Fire every escalation rung that has fallen due. Running it again changes nothing."

    def handle(self, *args, **options):
        self.stdout.write(f"{sweep()} escalation rungs fired.")
