"""The rules client and server share (nbmessages.types.rules): one definition, and both sides keep to it."""

from __future__ import annotations

import json
from typing import get_args

import httpx
import pytest
from local_fixtures import error_of

from nbmessages import Client
from nbmessages.client import base, errors
from nbmessages.local import checks, envelopes, options, start
from nbmessages.notebook.magic import magics
from nbmessages.notebook.playground import controls
from nbmessages.request import profiles
from nbmessages.types import RequestValidationError, rules
from nbmessages.types.params import MessageCreateParams


def test_client_and_server_import_the_same_rule_objects():
    assert checks.COUNT_TOKENS_FIELDS is base.COUNT_TOKENS_FIELDS is rules.COUNT_TOKENS_FIELDS
    assert checks.version_problems is profiles.version_problems is rules.version_problems
    assert checks.unsupported_version is base.unsupported_version is rules.unsupported_version
    assert envelopes.error_type_of is rules.error_type_of and errors.ERROR_TYPES is rules.ERROR_TYPES
    assert options.MAX_BODY_BYTES is base.MAX_BODY_BYTES is rules.MAX_BODY_BYTES
    assert profiles.ANTHROPIC.service_tiers is rules.ANTHROPIC_SERVICE_TIERS
    assert profiles.OPENROUTER.service_tiers is rules.OPENROUTER_SERVICE_TIERS


def test_service_tiers_of_the_backends_make_up_the_wire_type():
    tiers = get_args(get_args(MessageCreateParams.model_fields["service_tier"].annotation)[0])
    assert set(tiers) == {*rules.ANTHROPIC_SERVICE_TIERS, *rules.OPENROUTER_SERVICE_TIERS}


def test_count_tokens_fields_are_request_fields():
    assert set(rules.COUNT_TOKENS_FIELDS) <= set(MessageCreateParams.model_fields)
    assert "context_management" in rules.COUNT_TOKENS_FIELDS and "max_tokens" not in rules.COUNT_TOKENS_FIELDS


@pytest.mark.parametrize("status", sorted(rules.ERROR_TYPES))
def test_each_status_gets_the_same_error_type_on_both_sides(status):
    assert envelopes.ApiError(status, "x").error_type == rules.ERROR_TYPES[status]
    response = httpx.Response(status, json={"type": "error", "error": {"message": "x"}})
    assert errors.error_from_response(response).error_type == rules.ERROR_TYPES[status]


def test_every_status_class_takes_its_type_from_the_table():
    classes = [c for c in vars(errors).values()
               if isinstance(c, type) and issubclass(c, errors.APIStatusError) and c.status_code]
    assert len(classes) >= 15
    for cls in classes:
        assert cls.error_type == rules.ERROR_TYPES[cls.status_code], cls


def test_versions_and_the_version_error_are_the_same_for_both():
    assert rules.unsupported_version("2026-10-21") is None
    with pytest.raises(ValueError, match="anthropic_version: '2024-01-01' is not a supported version"):
        Client(api_key="k", base_url="http://127.0.0.1:9", anthropic_version="2024-01-01")
    with pytest.raises(Exception, match="anthropic-version: '2024-01-01' is not a supported version"):
        checks.api_version("2024-01-01")
    assert checks.api_version(None) == rules.DEFAULT_API_VERSION


REFUSED_2026 = {
    "model": "m", "max_tokens": 5, "top_k": 3,
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "x", "citations": [
            {"type": "char_location", "cited_text": "x", "document_index": 0, "start_char_index": 0,
             "end_char_index": 1}]}]},
        {"role": "assistant", "content": [
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "d"}}]},
        {"role": "user", "content": [{"type": "search_result", "source": "s", "title": "t", "content": [
            {"type": "text", "text": "y", "citations": [{"type": "char_location"}]}]}]},
    ],
}


def test_what_2026_10_21_removes_is_refused_alike_by_client_and_server(server):
    expected = [path for path, _ in rules.version_problems("2026-10-21", REFUSED_2026)]
    assert expected == ["top_k", "messages[0].content[0].citations", "messages[1].content[0]",
                        "messages[2].content[0].content[0].citations"]
    assert list(rules.version_problems("2023-06-01", REFUSED_2026)) == []
    client = Client(base_url=server.base_url, profile="local", anthropic_version="2026-10-21", ledger=False)
    with pytest.raises(RequestValidationError) as refused:
        client.messages.create(**REFUSED_2026)
    assert [path for path, _ in refused.value.problems] == expected
    answer = httpx.post(f"{server.base_url}/v1/messages", json=REFUSED_2026,
                        headers={"anthropic-version": "2026-10-21"})
    assert answer.status_code == 400
    assert all(path in error_of(answer)["message"] for path in expected)
    assert Client(base_url=server.base_url, profile="local", ledger=False).messages.create(**REFUSED_2026).text


def test_count_tokens_sends_context_management(server, tmp_path):
    cassette = tmp_path / "count.json"
    edits = {"edits": [{"type": "clear_tool_uses_20250919"}]}
    with start(record=cassette, upstream=server.base_url, pace=0, ttft=0) as recorder:
        client = Client(base_url=recorder.base_url, profile="local", ledger=False)
        count = client.messages.count_tokens(model="m", messages="count me", context_management=edits)
        client.close()
    assert count.input_tokens > 0
    (sent,) = json.loads(cassette.read_text())
    assert sent["request"]["path"].endswith("/messages/count_tokens")
    assert sent["request"]["body"]["context_management"] == edits and "max_tokens" not in sent["request"]["body"]


def test_front_ends_offer_the_effort_values_of_the_types():
    assert rules.EFFORTS == ("low", "medium", "high", "xhigh", "max")
    assert [value for _, value in controls.Controls(dict).effort.options] == ["", *rules.EFFORTS]
    assert "--effort {" + ",".join(rules.EFFORTS) + "}" in magics.MessageMagics.message.parser.format_usage()


def test_the_body_limit_is_the_servers_default_and_the_clients_check():
    assert options.ServerConfig().max_body_size == rules.MAX_BODY_BYTES
    client = Client(api_key="k", base_url="http://127.0.0.1:9", profile="compatible", ledger=False)
    with pytest.raises(RequestValidationError, match="at most 32 MB"):
        client.messages.create(model="m", max_tokens=5, messages="x" * (rules.MAX_BODY_BYTES + 1))
