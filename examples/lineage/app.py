"""The lineage app of the seed incident (FIX_TOO_MANY_CONNECTIONS.md), reduced to what matters here.

Flask + SQLAlchemy + PyMySQL under Gunicorn. Every Gunicorn worker process owns one SQLAlchemy QueuePool
sized by LINEAGE_DB_POOL_SIZE and LINEAGE_DB_MAX_OVERFLOW, so one container can hold up to
workers x (pool_size + max_overflow) connections. pooltuner computes those two numbers.

Runs on Debian bookworm's python3-flask, python3-sqlalchemy (1.4), python3-pymysql and gunicorn packages.
"""

import os
import threading
from urllib.parse import quote_plus

from flask import Flask, jsonify
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError

app = Flask(__name__)

_engine = None
_engine_lock = threading.Lock()


def _int_env(name, default):
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def pool_settings():
    """pool_size and max_overflow as the app runs with them (SQLAlchemy's own defaults are 5 and 10)."""
    return _int_env("LINEAGE_DB_POOL_SIZE", 5), _int_env("LINEAGE_DB_MAX_OVERFLOW", 10)


def database_url():
    # The seed's app reads LINEAGE_DB_URL; DATABASE_URL is the common name (the Kubernetes example's Secret).
    url = os.environ.get("LINEAGE_DB_URL", "").strip() or os.environ.get("DATABASE_URL", "").strip()
    if url:
        return url
    user = quote_plus(os.environ.get("LINEAGE_DB_USER", "lineage"))
    password = quote_plus(os.environ.get("LINEAGE_DB_PASSWORD", ""))
    host = os.environ.get("LINEAGE_DB_HOST", "127.0.0.1")
    port = os.environ.get("LINEAGE_DB_PORT", "3306")
    name = os.environ.get("LINEAGE_DB_NAME", "lineage")
    return f"mysql+pymysql://{user}:{password}@{host}:{port}/{name}"


def engine():
    """One engine (one pool) per worker process, created after Gunicorn forked it."""
    global _engine
    with _engine_lock:
        if _engine is None:
            pool_size, max_overflow = pool_settings()
            _engine = create_engine(
                database_url(),
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_timeout=_int_env("LINEAGE_DB_POOL_TIMEOUT", 30),
                pool_recycle=280,
                pool_pre_ping=True,
                pool_use_lifo=True,
            )
        return _engine


@app.get("/healthz")
def healthz():
    return "ok\n"


@app.get("/pool")
def pool():
    """What this worker process runs with; lets tests see applied settings without a database."""
    pool_size, max_overflow = pool_settings()
    return jsonify(
        pid=os.getpid(),
        pool_size=pool_size,
        max_overflow=max_overflow,
        workers=_int_env("GUNICORN_WORKERS", 1),
    )


@app.get("/")
@app.get("/work")
def work():
    """Holds one connection for ~50 ms, like a typical request's query."""
    seconds = float(os.environ.get("LINEAGE_QUERY_SECONDS", "0.05"))
    try:
        with engine().connect() as conn:
            value = conn.execute(text("SELECT SLEEP(:s), CONNECTION_ID()"), {"s": seconds}).fetchone()
        return jsonify(ok=True, pid=os.getpid(), connection_id=value[1])
    except OperationalError as err:
        code = err.orig.args[0] if err.orig is not None and err.orig.args else None
        status = 503 if code in (1040, 1203, 1226) else 500
        return jsonify(ok=False, pid=os.getpid(), error_code=code, error=str(err.orig)), status
    except SQLAlchemyError as err:
        return jsonify(ok=False, pid=os.getpid(), error=type(err).__name__), 500
