"""Reaching the database: the URL, the psycopg import, and failures worded for a person.

psycopg is an extra (`pip install 'webhook-inspector[postgres]'`): without it, a URL gets a
message naming the extra rather than an ImportError. A URL is shown without its password
(`display`), in messages and in `EventStore.path`.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from inspector.core.store.errors import StoreError

EXTRA = "pip install 'webhook-inspector[postgres]'"
CONNECT_TIMEOUT = 5  # seconds: a database that is down is said so quickly
# How psycopg says the server cannot be reached, or went away.
_UNREACHABLE = ("could not translate host name", "failed to resolve host", "connection refused",
                "no such file or directory", "timeout expired", "server closed the connection",
                "terminating connection", "the database system is", "connection is closed",
                "consuming input failed", "connection failed", "connection is lost",
                "connection is bad")
_PASSWORD = re.compile(r"(://[^:/@?#]*):[^@/?#]*@")
_PASSWORD_PARAM = re.compile(r"(?i)([?&]password=)[^&]*")


def display(url: str) -> str:
    """`url` without its password (for messages and `EventStore.path`)."""
    return _PASSWORD_PARAM.sub(r"\1***", _PASSWORD.sub(r"\1:***@", url))


def driver() -> Any:
    """The psycopg module (StoreError naming the extra when it is not installed)."""
    try:
        import psycopg
    except ImportError:
        raise StoreError(f"PostgreSQL needs psycopg: {EXTRA}") from None
    # Its own warnings about a connection that broke repeat what the store says, worded
    # for a person: they would be stray lines on a terminal.
    logging.getLogger("psycopg").setLevel(logging.ERROR)
    return psycopg


def connect(url: str, *, autocommit: bool = False) -> Any:
    """A psycopg connection (StoreError in one line when it cannot be had)."""
    psycopg = driver()
    try:
        conn = psycopg.connect(
            url, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT,
            application_name="webhook-inspector")
    except psycopg.Error as exc:
        raise explain(exc, url) from None
    return conn


def explain(exc: BaseException, url: str) -> StoreError:
    """A psycopg error as one line a person can act on (never the password)."""
    where = display(url)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = text.replace(url, where)
    low = text.lower()
    if "password authentication failed" in low or "no password supplied" in low:
        return StoreError(f"cannot log in to {where}: wrong user or password (give them in "
                          "the URL: postgresql://USER:PASSWORD@HOST/DB)")
    match = re.search(r'role "([^"]+)" does not exist', text)
    if match:
        return StoreError(f"cannot log in to {where}: the user {match.group(1)!r} does not "
                          f"exist (create it: createuser --pwprompt {match.group(1)}), or "
                          "name another in the URL")
    if "peer authentication failed" in low or "ident authentication failed" in low:
        return StoreError(f"cannot log in to {where}: the server lets this user in over its "
                          "unix socket only from the system account of the same name (peer "
                          "authentication): connect over TCP with a password "
                          "(postgresql://USER:PASSWORD@localhost/DB)")
    match = re.search(r'database "([^"]+)" does not exist', text)
    if match:
        return StoreError(f"{where}: the database {match.group(1)!r} does not exist: create "
                          f"it (createdb {match.group(1)}) or use --db with another one")
    if "missing \"=\"" in low or "invalid connection option" in low or "invalid dsn" in low \
            or "invalid uri" in low or "invalid integer value" in low or " value: " in low:
        return StoreError(f"{where} is not a PostgreSQL URL a driver understands ({text}): "
                          "use postgresql://USER:PASSWORD@HOST:PORT/DB")
    if any(sign in low for sign in _UNREACHABLE):
        return StoreError(f"database unreachable: {where} ({_short(text)})")
    if "permission denied" in low:
        return StoreError(f"{where}: permission denied ({_short(text)}): the user needs to "
                          "create tables in this database")
    if "could not extend" in low or "no space left" in low:
        return StoreError(f"disk full on the database server of {where}")
    return StoreError(f"database error on {where}: {_short(text)}")


def _short(text: str) -> str:
    """psycopg's message without the socket path noise."""
    text = re.sub(r'^connection (failed|is bad): connection to server (at|on socket) "[^"]*"'
                  r"(, port \d+)? failed: ", "", text)
    return text.replace("FATAL:  ", "")
