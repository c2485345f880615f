"""Django's PostgreSQL backend with statements bound on the server, so that psycopg can prepare
the ones a connection runs again (the server then parses and plans each query once per
connection, not once per request).

The protocol counts a statement's parameters in 16 bits: a statement with more (a large bulk
insert, an `__in` over a whole pool) is bound on the client instead, as Django does by default."""

from typing import Any

from django.db.backends.postgresql import base
from psycopg import ClientCursor

MAX_SERVER_PARAMETERS = 65_535


class ServerBindingCursor(base.ServerBindingCursor):
    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        if params is not None and len(params) > MAX_SERVER_PARAMETERS:
            query, params = ClientCursor(self.connection).mogrify(query, params), None
        return super().execute(query, params, **kwargs)


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        if params["cursor_factory"] is base.ServerBindingCursor:
            params["cursor_factory"] = ServerBindingCursor
        return params
