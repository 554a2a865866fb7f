"""``manage.py chatkit_recover_runs``: close the responses whose process died.

Loading a thread recovers its dead run anyway; run this at deploy or boot time (before
the workers start) so that no thread waits for a reader to be tidied.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django.core.management.base import BaseCommand

from ... import runs
from ...models import ThreadRun


class Command(BaseCommand):
    help = (
        "Mark the responses whose server process died as interrupted (their checkpointed text is kept) "
        "and release their threads. Responses of live processes are left alone."
    )

    def handle(self, *args, **options):
        # thread_id is the thread's ChatKit id (to_field), a string.
        thread_ids = [str(thread_id) for thread_id in ThreadRun.objects.values_list("thread_id", flat=True)]
        recovered = [thread_id for thread_id in thread_ids if async_to_sync(runs.recover)(thread_id, None) is None]
        still_running = len(thread_ids) - len(recovered)
        self.stdout.write(f"Recovered {len(recovered)} interrupted response(s); {still_running} still running.")
        for thread_id in recovered:
            self.stdout.write(f"  {thread_id}", self.style.WARNING)
