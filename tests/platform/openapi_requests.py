"""Hypothesis strategies that build HTTP requests from an OpenAPI operation: path and query
parameters and bodies of the shapes the schema describes, mixed with junk (wrong types, huge
numbers, unicode, missing fields)."""

import json
import re
import uuid
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from hypothesis import strategies as st

HUGE = 10**30
JUNK_TEXT = [
    "",
    " ",
    "²",
    "-1",
    "0",
    "1e400",
    "nan",
    "inf",
    "null",
    "true",
    "[]",
    "{}",
    "é" * 300,
    "x" * 5000,
    "\x00",
    "../../etc",
    "' OR 1=1 --",
    "9" * 25,
    "2024-13-45T99:99:99",
]
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-HUGE, HUGE),
    st.sampled_from([2**63, 2**64, -(2**63) - 1, HUGE]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(JUNK_TEXT),
    st.lists(st.integers(-HUGE, HUGE), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
# A path that the URL resolver refuses is a 404 before any view: a few of them, mostly values
# that route.
JUNK_PATH = ["0", "-1", "abc", "²", "9" * 19, "9" * 30, "1.5", "%00"]


@dataclass
class Call:
    method: str
    path: str
    query: dict = field(default_factory=dict)
    media_type: str = ""
    body: object = None

    def target(self) -> str:
        return self.path + (f"?{urlencode(self.query, doseq=True)}" if self.query else "")

    def describe(self) -> str:
        body = "" if self.media_type == "" else f" {self.media_type} {_short(self.body)}"
        return f"{self.method} {self.target()[:400]}{body}"

    def encoded(self) -> tuple[bytes | None, dict[str, str]]:
        if self.media_type == "application/json":
            return json.dumps(self.body, default=str).encode(), {"Content-Type": "application/json"}
        if self.media_type == "application/x-www-form-urlencoded":
            return urlencode(_form_pairs(self.body)).encode(), {"Content-Type": self.media_type}
        if self.media_type == "multipart/form-data":
            return _multipart(self.body)
        return None, {}


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) < 400 else text[:400] + "…"


class Builder:
    """Strategies for one schema. `ids` are real primary keys, `path_ids` the ones that fit a path
    parameter ({(first segment after /api/, parameter name): ids}), `words` real values by field
    name (taxon names, user names, queues, an organisation's id) and `files` file contents: valid
    shapes then reach past the lookups into the services."""

    def __init__(
        self,
        schema: dict,
        *,
        ids: list[int],
        path_ids: dict[tuple[str, str], list[int]],
        words: dict[str, list[str]],
        files: list[tuple[str, bytes]],
    ) -> None:
        self.components = schema.get("components", {}).get("schemas", {})
        self.ids, self.path_ids, self.words, self.files = ids, path_ids, words, files

    def call(self, path: str, method: str, operation: dict) -> st.SearchStrategy[Call]:
        parameters = operation.get("parameters", [])
        segment = path.split("/")[2]
        path_values = {
            p["name"]: self.path_value(
                p["schema"], self.path_ids.get((segment, p["name"]), self.ids)
            )
            for p in parameters
            if p["in"] == "path"
        }
        query = self.query([p for p in parameters if p["in"] == "query"])
        body = operation.get("requestBody", {}).get("content", {})
        bodies = (
            st.sampled_from(sorted(body)).flatmap(
                lambda media: self.body(media, body[media]["schema"])
            )
            if body
            else st.just(("", None))
        )
        return st.builds(
            lambda values, q, b: Call(method.upper(), _fill(path, values), q, *b),
            st.fixed_dictionaries(path_values),
            query,
            bodies,
        )

    def path_value(self, schema: dict, ids: list[int]) -> st.SearchStrategy[str]:
        valid = (
            self.integer(schema)
            if schema.get("type") == "integer"
            else st.text(min_size=1, max_size=20)
        )
        real = st.sampled_from(ids).map(str)
        return st.one_of(real, real, valid.map(str), st.sampled_from(JUNK_PATH))

    def query(self, parameters: list[dict]) -> st.SearchStrategy[dict]:
        values = {
            p["name"]: st.one_of(
                self.valid(p["schema"], p["name"]).map(_query_text),
                st.sampled_from(JUNK_TEXT),
                st.text(max_size=20),
            )
            for p in parameters
        }
        return st.fixed_dictionaries({}, optional=values)

    def body(self, media_type: str, schema: dict) -> st.SearchStrategy[tuple[str, object]]:
        schema = self.resolved(schema)
        if not schema.get("properties"):
            return JUNK.map(lambda value: (media_type, value))
        # A third of the bodies of the valid shape, a third with junk fields, a third not even
        # an object.
        whole = st.one_of(self.valid(schema), self.obj(schema, junk=True), JUNK)
        return whole.map(lambda value: (media_type, value))

    def obj(self, schema: dict, *, junk: bool) -> st.SearchStrategy[dict]:
        """Valid: every field, of the schema's shape (the deepest code runs when all are given).
        With `junk`: every field optional (required ones go missing too), each of the right shape or
        anything, and sometimes an unknown field."""
        fields = {
            name: st.one_of(self.valid(sub, name), JUNK) if junk else self.valid(sub, name)
            for name, sub in schema.get("properties", {}).items()
            if not sub.get("readOnly")
        }
        if not junk:
            return st.fixed_dictionaries(fields)
        return st.fixed_dictionaries({}, optional={**fields, "unknown_field": JUNK})

    def valid(self, schema: dict, name: str = "") -> st.SearchStrategy:
        schema = self.resolved(schema)
        strategy = self._valid(schema, name)
        if name in self.words and schema.get("type") != "array":
            real = st.sampled_from(self.words[name])
            strategy = st.one_of(real, real, strategy)
        return st.one_of(st.none(), strategy) if schema.get("nullable") else strategy

    def _valid(self, schema: dict, name: str) -> st.SearchStrategy:
        kind = schema.get("type")
        if "enum" in schema:
            return st.sampled_from(schema["enum"])
        if kind == "integer":
            return st.one_of(self.integer(schema), st.sampled_from(self.ids))
        if kind == "number":
            return st.floats(
                schema.get("minimum"), schema.get("maximum"), allow_nan=False, allow_infinity=False
            )
        if kind == "boolean":
            return st.booleans()
        if kind == "array":
            items = schema.get("items", {})
            return st.lists(
                self.valid(items, name),
                min_size=schema.get("minItems", 0),
                max_size=min(schema.get("maxItems", 4), 4),
            )
        if kind == "object":
            if "additionalProperties" in schema:
                keys = st.one_of(st.sampled_from(self.ids).map(str), st.text(max_size=5))
                return st.dictionaries(
                    keys, self.valid(schema["additionalProperties"], name), max_size=3
                )
            return self.obj(schema, junk=False)
        return self.string(schema)

    def integer(self, schema: dict) -> st.SearchStrategy[int]:
        low, high = schema.get("minimum", -(2**63)), schema.get("maximum", 2**63 - 1)
        return st.one_of(st.integers(low, high), st.sampled_from([low, high]))

    def string(self, schema: dict) -> st.SearchStrategy:
        if schema.get("format") == "date-time":
            return st.datetimes().map(lambda moment: moment.isoformat())
        if schema.get("format") == "binary":
            return st.sampled_from(self.files)
        return st.text(
            min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 40), 40)
        )

    def resolved(self, schema: dict) -> dict:
        reference = schema.get("$ref", "")
        return self.components[reference.rsplit("/", 1)[-1]] if reference else schema


def _fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda match: quote(values[match[1]], safe="%"), path)


def _query_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


def _form_pairs(body: object) -> list[tuple[str, str]]:
    """Form fields as browsers send them: a list is the key repeated, anything else its text."""
    if not isinstance(body, dict):
        return [("_", _query_text(body))]
    pairs = []
    for key, value in body.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, tuple):  # a file drawn for a form body: its name stands in
                item = item[0]
            pairs.append((key, "" if item is None else _query_text(item)))
    return pairs


def _multipart(body: object) -> tuple[bytes, dict[str, str]]:
    boundary = uuid.uuid4().hex
    parts = []
    for key, value in body.items() if isinstance(body, dict) else [("_", body)]:
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, tuple):
                head = (
                    f'Content-Disposition: form-data; name="{key}"; filename="{item[0]}"\r\n'
                    "Content-Type: application/octet-stream\r\n\r\n"
                )
                parts.append(head.encode() + item[1])
            else:
                text = "" if item is None else _query_text(item)
                parts.append(f'Content-Disposition: form-data; name="{key}"\r\n\r\n{text}'.encode())
    data = b"".join(b"--" + boundary.encode() + b"\r\n" + part + b"\r\n" for part in parts)
    data += b"--" + boundary.encode() + b"--\r\n"
    return data, {"Content-Type": f"multipart/form-data; boundary={boundary}"}
