"""Celery tasks of the visits app: thin, idempotent (the work is in visits.schedule_store)."""

from celery import shared_task

from visits import schedule_store

# Seconds a beat run spends starting new counties; the next run goes on where it stopped.
KEEP_SECONDS = 240


@shared_task(name="visits.keep_visit_schedules")
def keep_visit_schedules() -> dict:
    """Store the visit schedules the dashboard reads (run by beat every five minutes; the
    periodic task is created by migration visits 0002)."""
    return schedule_store.keep_schedules(seconds=KEEP_SECONDS)
