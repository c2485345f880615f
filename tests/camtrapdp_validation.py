"""Validating a Camtrap DP package offline with the `frictionless` package: the descriptor against
the Camtrap DP 1.0.2 profile, the tables against their table schemas, both read from the local
copies in ../shared/data/camtrap-dp-1.0.2/ (the package names them by their public URL; nothing here
goes online)."""

import json
from pathlib import Path

import pytest

REFERENCE = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "camtrap-dp-1.0.2"
PROFILE_URL = "https://raw.githubusercontent.com/tdwg/camtrap-dp/1.0.2/camtrap-dp-profile.json"
DATA_PACKAGE_URL = "https://specs.frictionlessdata.io/schemas/data-package.json"
GEOJSON_URL = "http://json.schemastore.org/geojson.json"


def reference() -> Path:
    if not REFERENCE.is_dir():
        pytest.skip(
            f"the Camtrap DP 1.0.2 reference files are not at {REFERENCE} (they live beside the "
            "checkout)"
        )
    return REFERENCE


def _profile_validator():
    """The Camtrap DP profile, its remote references answered by local copies: frictionless's own
    Data Package profile and GeoJSON schema."""
    import frictionless
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4, DRAFT7

    profile = json.loads((reference() / "camtrap-dp-profile.json").read_text())
    geojson = json.loads(
        (Path(frictionless.__file__).parent / "assets/profiles/geojson.json").read_text()
    )
    geojson.pop(
        "id", None
    )  # its own id is another URL: it is registered under the one the profile names
    registry = Registry().with_resources(
        [
            (
                DATA_PACKAGE_URL,
                Resource.from_contents(
                    frictionless.Package.metadata_profile, default_specification=DRAFT7
                ),
            ),
            (GEOJSON_URL, Resource.from_contents(geojson, default_specification=DRAFT4)),
        ]
    )
    return jsonschema.validators.validator_for(profile)(profile, registry=registry)


def package_errors(folder: Path) -> list[str]:
    """Every way the package in `folder` breaks Camtrap DP 1.0.2 (empty: valid)."""
    from frictionless import Package

    descriptor = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    errors = [
        f"datapackage.json: {error.message}"
        for error in _profile_validator().iter_errors(descriptor)
    ]
    if descriptor.get("profile") != PROFILE_URL:
        errors.append(f"datapackage.json: profile is {descriptor.get('profile')!r}")
    local = dict(descriptor)
    local.pop("profile", None)  # checked above; frictionless would fetch it
    local["resources"] = []
    for resource in descriptor["resources"]:
        resource = dict(resource)
        if isinstance(resource.get("schema"), str) and resource["name"] in (
            "deployments",
            "media",
            "observations",
        ):
            resource["schema"] = json.loads(
                (reference() / f"{resource['name']}-table-schema.json").read_text()
            )
        local["resources"].append(resource)
    report = Package(local, basepath=str(folder)).validate()
    errors += [f"{row[0]}: {row[1]}" for row in report.flatten(["type", "message"])]
    return errors
