"""``[core] hostname_callable`` for several Celery workers on one machine.

Airflow records the machine a task ran on as the task instance's ``hostname``. Two local
workers share one machine name, so the test cluster points ``hostname_callable`` here and
gives every worker its own ``CALLSCORE_WORKER_HOSTNAME``; elsewhere the real name is used.
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    return os.environ.get("CALLSCORE_WORKER_HOSTNAME") or socket.getfqdn()
