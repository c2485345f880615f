"""Django's PostgreSQL backend with statements bound on the server, so that psycopg can prepare
the ones a connection runs again (the server then parses and plans each query once per
connection, not once per request).

The protocol counts a statement's parameters in 16 bits: a statement with more (a large bulk
insert, an `__in` over a whole pool) is bound on the client instead, as Django does by default.

Bound on the server, an integer goes as its column's type in binary, and psycopg cuts one that does
not fit (10**12 reached an integer column as -727,379,968, written or compared without a word).
Such a value is sent as a plain int instead, and PostgreSQL refuses it: "integer out of range"."""

from typing import Any

from django.db.backends.postgresql import base, operations
from psycopg import ClientCursor
from psycopg.types import numeric

MAX_SERVER_PARAMETERS = 65_535
_BITS = {numeric.Int2: 16, numeric.Int4: 32, numeric.Int8: 64}


class ServerBindingCursor(base.ServerBindingCursor):
    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        if params is not None and len(params) > MAX_SERVER_PARAMETERS:
            query, params = ClientCursor(self.connection).mogrify(query, params), None
        return super().execute(query, params, **kwargs)


class DatabaseOperations(operations.DatabaseOperations):
    def adapt_integerfield_value(self, value: Any, internal_type: str) -> Any:
        adapted = super().adapt_integerfield_value(value, internal_type)
        bits = _BITS.get(type(adapted))
        if bits and not -(2 ** (bits - 1)) <= int(adapted) < 2 ** (bits - 1):
            return int(value)
        return adapted


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        if params["cursor_factory"] is base.ServerBindingCursor:
            params["cursor_factory"] = ServerBindingCursor
        return params
