"""A Django app with persistent connections, the shape of the seed incident on PostgreSQL (issue 11).

Django keeps one database connection per thread; with CONN_MAX_AGE > 0 it keeps it open between requests. Under
Gunicorn's gthread worker each of a worker's threads therefore holds its own connection: one container can hold
workers x threads connections. pooltuner's `django` profile sets the thread count (GUNICORN_THREADS).

One module, no project scaffolding: settings, URLs and the WSGI application. Runs on Debian bookworm's
python3-django (3.2), python3-psycopg2 (2.9) and gunicorn (20.1) packages.
"""

import os
from urllib.parse import unquote, urlsplit

import django
from django.conf import settings


def _int_env(name, default):
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def database_settings():
    """DATABASE_URL (postgres://user:password@host:port/name) as Django's DATABASES['default']."""
    url = urlsplit(os.environ.get("DATABASE_URL", "postgres://app:app-example@127.0.0.1:5432/app"))
    if url.scheme.split("+")[0] not in ("postgres", "postgresql"):
        raise SystemExit(f"DATABASE_URL must be a postgres:// URL, not {url.scheme}://")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(url.path.lstrip("/")) or "postgres",
        "USER": unquote(url.username or ""),
        "PASSWORD": unquote(url.password or ""),
        "HOST": url.hostname or "127.0.0.1",
        "PORT": str(url.port or 5432),
        # Persistent connections: each thread keeps its connection for this many seconds (0 closes it per request).
        "CONN_MAX_AGE": _int_env("CONN_MAX_AGE", 60),
        "OPTIONS": {"connect_timeout": 5, "application_name": "django-example"},
    }


settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret"),
    DATABASES={"default": database_settings()},
    INSTALLED_APPS=[],
    MIDDLEWARE=[],
    USE_TZ=True,
    TIME_ZONE="UTC",
)
django.setup()

from django.db import DatabaseError, connection  # noqa: E402 (after settings)
from django.http import HttpResponse, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402

# SQLSTATE 53300 (too_many_connections). A refused connection start carries no SQLSTATE through psycopg2 2.9
# (there is no result to read it from), so the server's messages for it are matched too.
SERVER_FULL = (
    "sorry, too many clients already",
    "remaining connection slots are reserved",
    "too many connections for role",
    "too many connections for database",
)


def sqlstate(err):
    cause = err.__cause__ if err.__cause__ is not None else err
    code = getattr(cause, "pgcode", None)
    if code:
        return code
    text = str(cause)
    return "53300" if any(m in text for m in SERVER_FULL) else None


def healthz(request):
    return HttpResponse("ok\n", content_type="text/plain")


def pool(request):
    """What this worker process runs with; lets tests see applied settings without a database."""
    return JsonResponse(
        {
            "pid": os.getpid(),
            "workers": _int_env("GUNICORN_WORKERS", 1),
            "threads": _int_env("GUNICORN_THREADS", 1),
            "conn_max_age": settings.DATABASES["default"]["CONN_MAX_AGE"],
        }
    )


def work(request):
    """Holds its thread's connection for ~50 ms, like a typical request's query."""
    seconds = float(os.environ.get("DJANGO_QUERY_SECONDS", "0.05"))
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(%s), pg_backend_pid()", [seconds])
            row = cursor.fetchone()
        return JsonResponse({"ok": True, "pid": os.getpid(), "backend_pid": row[1]})
    except DatabaseError as err:
        code = sqlstate(err)
        status = 503 if code == "53300" else 500
        return JsonResponse(
            {"ok": False, "pid": os.getpid(), "error_code": code, "error": str(err).strip()}, status=status
        )


urlpatterns = [
    path("healthz", healthz),
    path("pool", pool),
    path("", work),
    path("work", work),
]

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
