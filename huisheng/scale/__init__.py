"""Beyond one machine: polling on procrastinate workers that share one
PostgreSQL (``[scale] engine = "procrastinate"``, ``huisheng worker``).

``settings.py`` the ``[scale]`` table; ``schema.py`` procrastinate's own schema
beside huisheng's migrations; ``queue.py`` the tasks (the periodic dispatch,
``poll(account)``, the jobs beside polling, retrying stalled jobs);
``worker.py`` one worker process (heartbeats, waiting out database outages);
``status.py`` the workers and the queue for ``huisheng status``.
"""
