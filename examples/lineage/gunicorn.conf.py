# Gunicorn settings from the environment, as the seed's deployment read them.
# Each worker process imports app.py after the fork (no preload), so each gets its own SQLAlchemy pool.
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
# Threads share their worker's pool: with more threads than pool_size, requests use the overflow.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = 30
graceful_timeout = 10
preload_app = False
accesslog = None
