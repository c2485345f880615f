"""Sessions kept in the database as Django keeps them (same table, same encoding), read with one
plain query. Every request reads its session, and compiling Django's `Session.objects.get(...)` cost
twice the query itself: 650 µs a read against 225 µs for the same query written out (PostgreSQL, on
the load bench's machine). Writing, expiring and deleting stay Django's."""

from typing import Any

from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone


class SessionStore(db.SessionStore):
    def load(self) -> dict[str, Any]:
        data = self._stored_data()
        if data is None:
            self._session_key = None  # as Django does: an unknown or expired key is not kept
            return {}
        return self.decode(data)

    def _stored_data(self) -> str | None:
        """The encoded data of this session if it exists and has not expired."""
        connection = connections[router.db_for_read(self.model)]
        table = connection.ops.quote_name(self.model._meta.db_table)
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT session_data FROM {table} WHERE session_key = %s AND expire_date > %s",  # noqa: S608
                [self.session_key, now],
            )
            row = cursor.fetchone()
        return row[0] if row else None
