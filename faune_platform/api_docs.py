"""The API's schema (JSON or YAML) and its documentation page, read from the same
OpenAPI document."""

import json

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from rest_framework.schemas import get_schema_view

from faune_platform.openapi import FauneSchemaGenerator, JsonSchemaRenderer, YamlSchemaRenderer

# public: every operation is listed whoever asks; each one still checks the caller's role
# when called.
schema_view = get_schema_view(
    generator_class=FauneSchemaGenerator,
    public=True,
    renderer_classes=[JsonSchemaRenderer, YamlSchemaRenderer],
)

METHOD_ORDER = {"get": 0, "post": 1, "put": 2, "patch": 3, "delete": 4}


@login_required
def api_docs(request: HttpRequest) -> HttpResponse:
    """Every operation grouped by app: method, path, summary, parameters and body fields with types
    and ranges."""
    schema = FauneSchemaGenerator().get_schema(request=None, public=True)
    return render(
        request,
        "api_docs.html",
        {
            "info": schema["info"],
            "sections": api_sections(schema),
            "auth_example": auth_example(request.build_absolute_uri("/api/")),
        },
    )


def auth_example(api_root: str) -> str:
    """The shell session that gets a token and uses it: commands are code, the same in every
    language, so they are written here rather than among the page's translated words."""
    # a made-up token, shown as an example
    token = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"  # noqa: S105
    return (
        f"curl -X POST -d username=USER -d password=PASSWORD {api_root}token/\n"
        f'{{"token": "{token}"}}\n\n'
        f'curl -H "Authorization: Token {token}" {api_root}review/queues/'
    )


def api_sections(schema: dict) -> list[dict]:
    """[{tag, operations}] in tag order, operations by path then method, each ready for
    the template."""
    components = schema.get("components", {}).get("schemas", {})
    by_tag: dict[str, list[dict]] = {}
    for path, operations in sorted(schema["paths"].items()):
        for method, operation in sorted(
            operations.items(), key=lambda item: METHOD_ORDER.get(item[0], 9)
        ):
            row = _operation_row(path, method, operation, components)
            by_tag.setdefault(operation["tags"][0], []).append(row)
    return [{"tag": tag, "operations": by_tag[tag]} for tag in sorted(by_tag)]


def _operation_row(path: str, method: str, operation: dict, components: dict) -> dict:
    body = operation.get("requestBody", {}).get("content", {})
    some_body = next(iter(body.values()), {}).get("schema", {})
    summary, description = operation.get("summary", ""), operation.get("description", "").strip()
    more = description if description.rstrip(".") != summary else ""  # shown only when it says more
    return {
        "id": operation["operationId"],
        "method": method.upper(),
        "path": path,
        "summary": inline_code(summary),
        "description": inline_code(more),
        "parameters": [
            _field_row(
                p["name"],
                p["schema"],
                p.get("required", False),
                p.get("description", ""),
                where=p["in"],
            )
            for p in operation.get("parameters", [])
        ],
        "media_types": list(body),
        "body": _object_rows(_resolved(some_body, components), components),
    }


def inline_code(text: str) -> SafeString:
    """Docstrings mark names as `code`: shown as code, everything else escaped."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: plain text
        return escape(text)
    return mark_safe(  # noqa: S308 every part is escaped
        "".join(
            f"<code>{escape(part)}</code>" if index % 2 else escape(part)
            for index, part in enumerate(parts)
        )
    )


def _resolved(schema: dict, components: dict) -> dict:
    reference = schema.get("$ref", "")
    return components.get(reference.rsplit("/", 1)[-1], {}) if reference else schema


def _object_rows(schema: dict, components: dict, prefix: str = "") -> list[dict]:
    """An object's fields, a nested object's fields after it as `outer.inner`; read-only fields are
    left out."""
    rows = []
    required = set(schema.get("required", []))
    for name, field in schema.get("properties", {}).items():
        field = _resolved(field, components)
        if field.get("readOnly"):
            continue
        rows.append(
            _field_row(
                prefix + name, field, name in required, field.get("description", ""), where="body"
            )
        )
        if field.get("type") == "object":
            rows.extend(_object_rows(field, components, prefix=f"{prefix}{name}."))
    return rows


def _field_row(name: str, schema: dict, required: bool, description: str, *, where: str) -> dict:
    return {
        "name": name,
        "in": where,
        "type": _type_text(schema),
        "range": _range_text(schema),
        "required": required,
        "default": _default_text(schema.get("default")),
        "nullable": schema.get("nullable", False),
        "description": description,
    }


def _default_text(value: object) -> str | None:
    """As a client writes it in JSON (false, not Python's False); text as it is."""
    return value if value is None or isinstance(value, str) else json.dumps(value)


def _type_text(schema: dict) -> str:
    kind = schema.get("type", "any")
    if kind == "array":
        return _("array of %(item)s") % {"item": _type_text(schema.get("items", {}))}
    if kind == "object" and "additionalProperties" in schema:
        return _("object of %(value)s") % {"value": _type_text(schema["additionalProperties"])}
    return f"{kind} ({schema['format']})" if "format" in schema else kind


def _range_text(schema: dict) -> str:
    """Ranges, lengths and choices as a person reads them: "1 to 100", "at most 160 characters"."""
    parts = []
    if "enum" in schema:
        parts.append(
            _("one of: %(choices)s") % {"choices": ", ".join(str(c) for c in schema["enum"])}
        )
    parts.append(_bounds(schema.get("minimum"), schema.get("maximum"), unit=""))
    parts.append(_bounds(schema.get("minLength"), schema.get("maxLength"), unit=_("characters")))
    parts.append(_bounds(schema.get("minItems"), schema.get("maxItems"), unit=_("items")))
    if schema.get("type") == "array":
        parts.append(_range_text(schema.get("items", {})))
    return "; ".join(part for part in parts if part)


def _bounds(low: object, high: object, *, unit: str) -> str:
    if low is not None and low == high:
        text = _("exactly %(count)s") % {"count": low}
    elif low is not None and high is not None:
        text = _("%(low)s to %(high)s") % {"low": low, "high": high}
    elif low is not None:
        text = _("at least %(low)s") % {"low": low}
    elif high is not None:
        text = _("at most %(high)s") % {"high": high}
    else:
        return ""
    return f"{text} {unit}".strip()
