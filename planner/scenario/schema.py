"""The JSON Schema of the scenario format, for editors: the models' schema plus the fleet format."""
from __future__ import annotations

from typing import Any

from planner.scenario.document import Scenario
from planner.scenario.fleets import schema_with_fleets


def json_schema() -> dict[str, Any]:
    """JSON Schema of the scenario format, for editors."""
    schema = Scenario.model_json_schema(mode="validation")
    schema.get("properties", {}).pop("source_file", None)
    schema = schema_with_fleets(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Hybrid placement planner scenario"
    return schema
