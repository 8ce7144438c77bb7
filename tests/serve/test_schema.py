"""schemathesis against the served OpenAPI schema: generated requests, valid and not, never get a 5xx and
every answer matches the schema (bounded: a fixed number of examples per operation, no shrinking).

Not checked: that every schema-valid body is accepted. Whether a body is right depends on the model it
names (its options, a class or a prompt, the characters its tokenizer knows); those are answered 4xx naming
the problem, which the other checks hold the answers to."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from noisecraft.serve.api import create_app
from noisecraft.serve.service import Service


@pytest.fixture(scope="module")
def api(served):
    from fastapi.testclient import TestClient

    app = create_app(Service(served, max_batch=4), studio=False)
    with TestClient(app):  # runs the lifespan: the service's sampling thread stops at the end
        yield app


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_the_api_honours_its_schema(api, mode):
    schema = schemathesis.openapi.from_asgi("/openapi.json", api)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {f"{o.method.upper()} {o.path}" for o in operations} == {"GET /healthz", "GET /v1/models", "POST /v1/generate",
                                                                     "POST /v1/music"}
    for operation in operations:
        if mode == "negative" and operation.method.upper() == "GET":
            continue  # no parameters, so no invalid request to make
        @given(case=operation.as_strategy(generation_mode=GenerationMode(mode)))
        @settings(max_examples=60, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        def check(case) -> None:
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        check()
