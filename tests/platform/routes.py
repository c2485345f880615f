"""Every URL of the project as a route with its parameters, for the tests that walk them all, and
the real row a detail URL should reach."""

import re
from collections.abc import Iterator
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver


@dataclass(frozen=True)
class Route:
    pattern: URLPattern
    template: str  # the full route, parameters as {name}
    params: dict[str, str]  # name -> converter name ("id", "int", "str", "path", "regex")
    admin: bool


def _walk(patterns, prefix: str = "") -> Iterator[tuple[URLPattern, str]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        else:
            yield entry, prefix + str(entry.pattern)


def _route(pattern: URLPattern, raw: str) -> Route:
    params: dict[str, str] = {}

    def typed(match: re.Match) -> str:
        params[match["name"]] = match["conv"] or "str"
        return "{" + match["name"] + "}"

    def grouped(match: re.Match) -> str:
        params[match["name"]] = "regex:" + match["body"]
        return "{" + match["name"] + "}"

    template = re.sub(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>", typed, raw)
    template = re.sub(r"\(\?P<(?P<name>\w+)>(?P<body>[^)]*)\)", grouped, template)
    template = template.replace("^", "").replace("$", "")
    return Route(pattern, "/" + template, params, raw.startswith("admin/"))


def all_routes() -> list[Route]:
    routes = [_route(pattern, raw) for pattern, raw in _walk(get_resolver().url_patterns)]
    # Admin deletions run last: a confirmed delete removes seeded rows the other URLs should
    # still reach.
    return sorted(routes, key=lambda r: (r.admin, "/delete/" in r.template))


def real_id(route: Route, real: dict) -> object:
    admin = getattr(route.pattern.callback, "model_admin", None)
    if admin is not None:
        first = admin.model._default_manager.order_by("pk").first()
        return first.pk if first else 1
    name = route.pattern.name or ""
    return next((value for key, value in real.items() if key in name), real["image"])
