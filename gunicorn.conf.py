"""gunicorn settings for Tasky: ``gunicorn app:app`` reads this file from the working
directory. They come from ``tasky.serving``, as ``tasky serve``'s do; command-line flags
(``-b``, ``-w``, ``--threads``, ``--log-level``) override them, and ``WEB_CONCURRENCY`` sets
the number of processes. Tasks run without this file too (see README, "Deploying")."""

# Importing tasky.metrics settles the metrics directory here, in the master, for every
# process it starts (see README, "Metrics").
from tasky.metrics.directory import child_exit  # noqa: F401  (a gunicorn hook)
from tasky.serving import GUNICORN_SETTINGS, post_worker_init  # noqa: F401  (a gunicorn hook)

bind = GUNICORN_SETTINGS["bind"]
worker_class = GUNICORN_SETTINGS["worker_class"]
threads = GUNICORN_SETTINGS["threads"]
graceful_timeout = GUNICORN_SETTINGS["graceful_timeout"]
keepalive = GUNICORN_SETTINGS["keepalive"]
control_socket_disable = GUNICORN_SETTINGS["control_socket_disable"]
