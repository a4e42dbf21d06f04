"""The monthly allowance run.

A run is planned once (plan.py: which schemes each rate region pays and how much, resolved from
the rulebook per rate region, never per elder; stored on the run as JSON at one boundary), then
processed in chunks of elder ids (chunks.py), each writing its lines and its "done" mark in one
transaction, and finished by whoever completes the last chunk (finishing.py, which also holds
the sweep that brings stuck runs back and resume). Late registrations are paid for earlier
months as arrears (arrears.py); certified caregivers once per month (caregivers.py).

Modules import downwards only: planning → chunks → (lines, arrears) → plan; finishing and
queueing are used by both; Celery tasks (subsidies.tasks) are reached only when queueing.
"""
