# Gunicorn settings from the environment. gthread: each worker runs GUNICORN_THREADS threads, and with Django's
# persistent connections (CONN_MAX_AGE > 0) each thread keeps a database connection of its own.
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
worker_class = "gthread"
# pooltuner's `django` profile writes GUNICORN_THREADS: read it here, never write `--threads N` in the command.
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = 30
graceful_timeout = 10
preload_app = False
accesslog = None
