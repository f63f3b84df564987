"""gunicorn settings for Tasky: loopback by default, one runner process per worker process.

``gunicorn app:app`` reads this file from the working directory. Command-line flags
(``-b``, ``-w``, ``--log-level``, ``--access-logfile``) override it; ``WEB_CONCURRENCY``
sets the number of processes.
"""

import gc
import logging

bind = ["127.0.0.1:8888"]
worker_class = "gthread"
threads = 8
graceful_timeout = 10
control_socket_disable = True


def post_worker_init(worker):
    """Threads and database connections do not survive the fork: the worker's runner process
    is forked here, before any thread starts. Tasky's own log lines go where gunicorn's
    error log goes. The objects of the loaded app live as long as the process: frozen, the
    garbage collector stops walking them on every full collection (a tenth of the time of a
    large batch submit). gunicorn's own refusals are written by the worker process: they
    get SPEC's JSON shape here, and the master process stays without the app's imports."""
    from tasky.serving import answer_errors_in_json

    answer_errors_in_json()
    gc.freeze()
    root = logging.getLogger()
    root.handlers = list(worker.log.error_log.handlers)
    root.setLevel(worker.log.error_log.level)
    worker.wsgi.extensions["tasky"].runner.start(in_child=lambda: _close_sockets(worker))


def worker_exit(server, worker):
    app = getattr(worker, "wsgi", None)  # absent when the app failed to load
    if app is not None:
        app.extensions["tasky"].runner.stop()


def _close_sockets(worker):
    """The runner process answers no request: it lets go of the listening sockets."""
    for sock in worker.sockets:
        sock.close()
