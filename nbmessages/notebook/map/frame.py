"""From the input (DataFrame, Series, list of prompts or Requests) to one request per row, and from the
outcomes back to a DataFrame aligned with the input's index."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ...request.builder import Request
from ...request.content import output_format
from ...request.templating import fill
from ...types import Message, RequestValidationError
from .. import settings

if TYPE_CHECKING:
    import pandas as pd

STATUSES = ("ok", "error", "cached", "skipped")
RESULT_COLUMNS = ("stop_reason", "input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens",
                  "cost_usd", "duration", "message_id", "status", "error_type", "error_message")
_INTS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")


@dataclass
class Outcome:
    """What happened to one request: its answer (or why there is none), what it cost and how long it took."""

    status: str  # ok | error | cached | skipped
    message: Message | None = None
    messages: list[Message] = field(default_factory=list)  # every answer of a tool loop (the last is `message`)
    parsed: Any = None  # the structured output, when a schema was given and it validated
    cost_usd: float | None = None
    duration: float | None = None
    error_type: str | None = None
    error_message: str | None = None


@dataclass
class Rows:
    """The input's index and, per row, its request (or the reason it could not be built)."""

    index: Any
    requests: list[Request | RequestValidationError]


def _schema_of(options: Mapping[str, Any]) -> type[BaseModel] | None:
    fmt = options.get("output_format")
    return fmt if isinstance(fmt, type) and issubclass(fmt, BaseModel) else None


def _through_settings(options: Mapping[str, Any]) -> dict[str, Any]:
    """Request keywords from the options: names of the settings table (``effort``, ``schema``, ``thinking=2048``,
    ``provider_order``…) as every front end reads them, its defaults (model, max_tokens); wire values as given."""
    table = {alias for r in settings.rows() for alias in (r.name, *r.aliases)} - {"cache"}  # map's cache= is its own
    wire = set(Request.model_fields)
    known = {k: v for k, v in options.items() if k in table and not (k in wire and isinstance(v, dict))}
    raw = {k: v for k, v in options.items() if k not in known and v is not None}
    return {**settings.request_params(known), **raw}


def request_options(options: dict[str, Any]) -> tuple[dict[str, Any], type[BaseModel] | None]:
    """The request fields to send and the pydantic schema to validate answers with (parsed here, per row)."""
    params = _through_settings(options)
    schema = _schema_of(params)
    if "output_format" in params:
        fmt = params.pop("output_format")
        config = dict(params.get("output_config") or {})
        config["format"] = output_format(fmt)  # the schema is sent; validation happens per row, not in the client
        params["output_config"] = config
    if schema is not None:
        clash = sorted(set(schema.model_fields) & set(RESULT_COLUMNS))
        if clash:
            raise ValueError(f"output_format: the field(s) {', '.join(clash)} of {schema.__name__} would overwrite "
                             f"result columns; rename them (the result columns are {', '.join(RESULT_COLUMNS)})")
    return params, schema


def _namespaces(data: Any) -> tuple[Any, list[Any], list[str]]:
    """The index, one item per row, and the names a template may use."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        names = [str(c) for c in data.columns]
        rows = [dict(zip(names, values, strict=True)) for values in data.itertuples(index=False, name=None)]
        return data.index, rows, names
    if isinstance(data, pd.Series):
        name = str(data.name) if data.name is not None else "value"
        return data.index, [{name: v, "value": v} for v in data.tolist()], sorted({name, "value"})
    if isinstance(data, (str, bytes)) or not isinstance(data, Sequence):
        raise TypeError(f"data: expected a DataFrame, a Series or a list of prompts or Requests, "
                        f"not {type(data).__name__}")
    return pd.RangeIndex(len(data)), list(data), ["value"]


def _check_template(prompt: str, names: list[str]) -> None:
    """Refuse a template naming a column that does not exist (before anything is sent)."""
    probe = fill(prompt, dict.fromkeys(names, ""))
    if probe.undefined:
        missing = ", ".join("{" + n + "}" for n in probe.undefined)
        raise ValueError(f"prompt: {missing} names no column; the template may use {', '.join(names)} "
                         "(write {{x}} for a literal {x})")


def build(data: Any, prompt: str | None, params: dict[str, Any]) -> Rows:
    """One request per row; a row whose request is invalid gets its validation error instead."""
    index, items, names = _namespaces(data)
    base = dict(params)
    if prompt is not None:
        _check_template(prompt, names)
    template = Request(messages="x", **base)  # options wrong for every row: refused now, naming the field
    requests: list[Request | RequestValidationError] = []
    for item in items:
        try:
            requests.append(_request(item, prompt, base, template))
        except RequestValidationError as exc:
            requests.append(exc)
    return Rows(index, requests)


def _request(item: Any, prompt: str | None, params: dict[str, Any], template: Request) -> Request:
    if isinstance(item, Request):
        return item.replace(**params) if params else item
    if prompt is None:
        if not isinstance(item, str):
            raise RequestValidationError([("data", f"without a prompt template each item must be a prompt "
                                                   f"string or a Request, not {type(item).__name__}")])
        return template.with_prompt(item)
    namespace = item if isinstance(item, dict) else {"value": item}
    return template.with_prompt(fill(prompt, namespace).text)


# -- results


def _answer_columns(schema: type[BaseModel] | None) -> list[str]:
    return list(schema.model_fields) if schema is not None else ["text"]


def _answer(outcome: Outcome, schema: type[BaseModel] | None) -> dict[str, Any]:
    if schema is None:
        return {"text": outcome.message.text if outcome.message is not None and outcome.status in ("ok", "cached")
                else None}
    if outcome.parsed is None:
        return dict.fromkeys(schema.model_fields)
    dumped: dict[str, Any] = outcome.parsed.model_dump(mode="python")
    return dumped


def _usage_numbers(outcome: Outcome) -> dict[str, Any]:
    messages = outcome.messages or ([outcome.message] if outcome.message is not None else [])
    usages = [m.usage for m in messages if m.usage is not None]
    if not usages:
        return dict.fromkeys(_INTS)
    return {
        "input_tokens": sum(u.input_tokens or 0 for u in usages),
        "output_tokens": sum(u.output_tokens or 0 for u in usages),
        "cache_read_tokens": sum(u.cache_read_input_tokens or 0 for u in usages),
        "cache_creation_tokens": sum(u.cache_creation_input_tokens or 0 for u in usages),
    }


def to_frame(rows: Rows, outcomes: list[Outcome], schema: type[BaseModel] | None) -> pd.DataFrame:
    """The results aligned with the input's index: the answer's columns, then stop reason, tokens, cost…"""
    import pandas as pd

    records = []
    for o in outcomes:
        m = o.message
        records.append({
            **_answer(o, schema),
            "stop_reason": m.stop_reason if m is not None else None,
            **_usage_numbers(o),
            "cost_usd": o.cost_usd, "duration": o.duration,
            "message_id": (m.id or None) if m is not None else None,
            "status": o.status, "error_type": o.error_type, "error_message": o.error_message,
        })
    columns = [*_answer_columns(schema), *RESULT_COLUMNS]
    df = pd.DataFrame.from_records(records, columns=columns, index=rows.index)
    for name in _INTS:
        df[name] = df[name].astype("Int64")
    for name in ("cost_usd", "duration"):
        df[name] = pd.array([math.nan if v is None else v for v in df[name]], dtype="Float64")
    for name in ("stop_reason", "message_id", "error_type", "error_message", *(("text",) if schema is None else ())):
        df[name] = df[name].astype("string")
    if schema is not None:  # nullable dtypes: an error row leaves a gap without turning integers into floats
        fields = list(schema.model_fields)
        df[fields] = df[fields].convert_dtypes()
    df["status"] = pd.Categorical(df["status"], categories=STATUSES)
    return df
