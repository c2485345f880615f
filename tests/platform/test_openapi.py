"""The OpenAPI schema describes the whole REST API: every API route of the URL resolver is in it (a
new endpoint cannot be forgotten), every path in it is a URL of the project, and each operation
documents its inputs."""

import json
import re

import pytest
import yaml
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from faune_platform.api_docs import inline_code
from faune_platform.openapi import FauneSchemaGenerator
from faune_platform.tokens.services import api_token_create

pytestmark = pytest.mark.django_db

# The schema's own URLs and the documentation page are not operations of the API.
NOT_OPERATIONS = {"api-schema", "api-schema-yaml", "api-docs"}
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def schema() -> dict:
    return FauneSchemaGenerator().get_schema(request=None, public=True)


def _api_routes(patterns=None, prefix: str = "") -> dict[str, set[str]]:
    """{URL name: methods} of every view routed under /api/, read from the resolver (not
    from DRF)."""
    found: dict[str, set[str]] = {}
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found.update(_api_routes(entry.url_patterns, route))
        elif (
            isinstance(entry, URLPattern)
            and route.startswith("api/")
            and entry.name not in NOT_OPERATIONS
        ):
            view_class = getattr(entry.callback, "view_class", None) or getattr(
                entry.callback, "cls", None
            )
            found[entry.name] = {
                m for m in METHODS if view_class is not None and hasattr(view_class, m)
            }
    return found


def _operations(schema: dict):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def _example_url(path: str, operation: dict) -> str:
    values = {
        p["name"]: p["schema"].get("minimum", 1)
        for p in operation["parameters"]
        if p["in"] == "path"
    }
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m[1]]), path)


def test_the_schema_is_openapi_3_with_unique_operation_ids(schema):
    assert re.fullmatch(r"3\.\d+\.\d+", schema["openapi"])
    assert schema["info"]["title"] and schema["info"]["version"]
    ids = [operation["operationId"] for _, _, operation in _operations(schema)]
    assert len(ids) == len(set(ids)) and all(re.fullmatch(r"[a-z_]+", i) for i in ids)
    assert {operation["tags"][0] for _, _, operation in _operations(schema)} == {
        "annotation",
        "inference",
        "training",
        "platform",
    }
    assert schema["components"]["securitySchemes"]["token"]["name"] == "Authorization"
    assert (
        schema["paths"]["/api/token/"]["post"]["security"] == []
    )  # the one operation open to anyone
    assert "security" not in schema["paths"]["/api/review/claim/"]["post"]


def test_every_path_of_the_schema_is_a_url_of_the_project(schema):
    for path, method, operation in _operations(schema):
        match = resolve(_example_url(path, operation))
        assert match.url_name not in NOT_OPERATIONS, path
        view_class = match.func.view_class
        assert hasattr(view_class, method), (
            f"{method.upper()} {path}: {view_class.__name__} has no {method}"
        )


def test_every_api_route_of_the_resolver_is_in_the_schema(schema):
    documented: dict[str, set[str]] = {}
    for path, method, operation in _operations(schema):
        documented.setdefault(resolve(_example_url(path, operation)).url_name, set()).add(method)
    routes = _api_routes()
    assert len(routes) >= 30  # the walk found them: a broken walk would pass vacuously
    missing = {name: methods - documented.get(name, set()) for name, methods in routes.items()}
    assert not {name: m for name, m in missing.items() if m}, "API routes missing from the schema"


def test_each_operation_documents_its_parameters_and_body(schema):
    paths = schema["paths"]
    for path, method, operation in _operations(schema):
        assert operation["summary"], f"{method} {path} has no summary"
        for parameter in operation["parameters"]:
            if parameter["in"] == "path":
                assert (
                    parameter["schema"]["type"] == "integer" and parameter["schema"]["minimum"] >= 0
                )
    images = {p["name"]: p for p in paths["/api/images/"]["get"]["parameters"]}
    assert {
        "organisation",
        "deployment",
        "batch",
        "taken_after",
        "taxon",
        "labelled",
        "page",
    } <= set(images)
    assert images["organisation"]["schema"]["minimum"] == 1
    similar = {
        p["name"]: p["schema"] for p in paths["/api/images/{pk}/similar/"]["get"]["parameters"]
    }
    assert (similar["k"]["minimum"], similar["k"]["maximum"], similar["k"]["default"]) == (
        1,
        100,
        12,
    )
    components = schema["components"]["schemas"]
    verdict = paths["/api/review/tasks/{pk}/label/"]["post"]["requestBody"]["content"][
        "application/json"
    ]
    fields = components[verdict["schema"]["$ref"].rsplit("/", 1)[-1]]
    assert (
        fields["required"] == ["taxon"]
        and fields["properties"]["box"]["properties"]["x"]["maximum"] == 1
    )
    rounds = components["RoundListApiInput"]["properties"]
    assert (rounds["epochs"]["minimum"], rounds["epochs"]["maximum"]) == (1, 1000)
    upload = paths["/api/images/"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload
    assert (
        "requestBody" not in paths["/api/review/tasks/{pk}/skip/"]["post"]
    )  # a bare action reads no body


def test_every_body_that_a_view_validates_is_described(schema):
    """A POST that reads fields has a described body with at least one field."""
    components = schema["components"]["schemas"]
    bare = {
        "/api/review/tasks/{pk}/skip/",
        "/api/review/tasks/{pk}/unsure/",
        "/api/rounds/{pk}/cancel/",
        "/api/batches/{pk}/close/",
        "/api/review/tasks/{pk}/release/",
        "/api/decisions/{pk}/undo/",
    }
    for path, method, operation in _operations(schema):
        if method != "post" or path in bare:
            continue
        content = next(iter(operation["requestBody"]["content"].values()))
        name = content["schema"]["$ref"].rsplit("/", 1)[-1]
        assert components[name]["properties"], f"POST {path}: body without fields"


def test_schema_is_served_as_json_and_yaml_to_a_token(partner, client):
    secret = api_token_create(user=partner, name="schema").secret
    auth = {"HTTP_AUTHORIZATION": f"Token {secret}"}
    as_json = client.get("/api/schema/", **auth)
    assert as_json.status_code == 200 and as_json["Content-Type"].startswith(
        "application/vnd.oai.openapi+json"
    )
    document = json.loads(as_json.content)
    assert "/api/review/claim/" in document["paths"]
    for url in ("/api/schema/?format=yaml", "/api/schema.yaml"):
        as_yaml = client.get(url, **auth)
        assert as_yaml.status_code == 200 and as_yaml["Content-Type"].startswith("application/yaml")
        assert yaml.safe_load(as_yaml.content)["paths"].keys() == document["paths"].keys()
    assert client.get("/api/schema/").status_code in (401, 403)


def test_docs_page_needs_a_log_in(client, partner):
    assert client.get("/api/docs/").status_code == 302
    client.force_login(partner)
    page = client.get("/api/docs/").content.decode()
    assert "review_claim_post" in page and "Authorization: Token" in page


def test_docstring_code_marks_become_code_and_the_rest_is_escaped():
    assert inline_code("with `taxa` <b>") == "with <code>taxa</code> &lt;b&gt;"
    assert inline_code("one ` alone <i>") == "one ` alone &lt;i&gt;"


def _response_schema(operation: dict) -> dict | None:
    response = next(iter(operation["responses"].values()))
    return response.get("content", {}).get("application/json", {}).get("schema")


def test_every_operation_that_answers_a_body_declares_its_shape(schema):
    """Each API's output serializer documents its answer: a component, or a list (or a page) of one
    (only DELETE answers nothing)."""

    def declared(shape: dict) -> bool:
        pages = shape.get("properties", {}).get("results", {})  # a paginated list
        return bool(
            shape.get("$ref")
            or shape.get("items", {}).get("$ref")
            or pages.get("items", {}).get("$ref")
        )

    undeclared = [
        f"{method} {path}"
        for path, method, operation in _operations(schema)
        if method != "delete" and not declared(_response_schema(operation) or {})
    ]
    assert undeclared == []
    components = schema["components"]["schemas"]
    assert {
        "Round",
        "ModelVersion",
        "PrelabelProgress",
        "Accepted",
        "Decision",
        "ReviewTask",
        "Export",
    } <= set(components)
    assert set(components["Round"]["properties"]) == {
        "id",
        "status",
        "progress",
        "params",
        "seed",
        "snapshot",
        "candidate",
        "parent",
        "metrics",
        "log",
        "created_at",
        "finished_at",
    }


def test_a_get_that_answers_one_object_is_not_documented_as_a_list(schema):
    for path in (
        "/api/images/{pk}/prediction/",
        "/api/batches/{pk}/prelabel/",
        "/api/novelty/scans/",
        "/api/review/agreement/",
    ):
        assert "$ref" in _response_schema(schema["paths"][path]["get"]), path
    assert _response_schema(schema["paths"]["/api/rounds/"]["get"])["type"] == "array"
