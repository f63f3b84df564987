"""gunicorn settings for Tasky: loopback by default, one runner per worker process.

``gunicorn app:app`` reads this file from the working directory. Command-line flags
(``-b``, ``-w``) override it; ``WEB_CONCURRENCY`` sets the number of processes.
"""

bind = ["127.0.0.1:8888"]
worker_class = "gthread"
threads = 4
graceful_timeout = 10
logconfig_dict = {"root": {"level": "INFO", "handlers": ["error_console"]}}


def _runtime(worker):
    return worker.wsgi.extensions["tasky"].runtime


def post_worker_init(worker):
    """Threads and database connections do not survive the fork: start them here."""
    _runtime(worker).start()


def worker_exit(server, worker):
    _runtime(worker).stop()
