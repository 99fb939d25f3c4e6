"""Content from Python values: attachments from paths, bytes or URLs; tools from functions; schemas from models."""

from __future__ import annotations

import base64
import inspect
import mimetypes
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_type_hints

from pydantic import BaseModel, Field, create_model

from ..types import RequestValidationError
from ..types.blocks import sniff_media_type


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def attachment(source: str | Path | bytes, media_type: str | None = None, **options: Any) -> dict[str, Any]:
    """An image or document block from a path, bytes or URL; base64 and media type filled in."""
    if isinstance(source, str) and _is_url(source):
        kind = "document" if (media_type or _guess(source)) == "application/pdf" else "image"
        return {"type": kind, "source": {"type": "url", "url": source}, **_doc_options(kind, options)}
    data, name = _read(source)
    media_type = media_type or sniff_media_type(data) or (_guess(name) if name else None)
    if media_type == "text/plain":
        return document(data.decode("utf-8"), **options)
    if media_type is None:
        raise ValueError(f"attachment: cannot tell the media type of {name or 'these bytes'}; pass media_type=")
    kind = "document" if media_type == "application/pdf" else "image"
    encoded = base64.b64encode(data).decode("ascii")
    block = {"type": kind, "source": {"type": "base64", "media_type": media_type, "data": encoded}}
    return {**block, **_doc_options(kind, options)}


def _read(source: str | Path | bytes) -> tuple[bytes, str | None]:
    if isinstance(source, bytes):
        return source, None
    path = Path(source).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"attachment: no file at {str(path)!r}")
    return path.read_bytes(), path.name


def _guess(name: str) -> str | None:
    return mimetypes.guess_type(name)[0]


def _doc_options(kind: str, options: dict[str, Any]) -> dict[str, Any]:
    if kind != "document":
        return {}
    out = {k: v for k, v in options.items() if k in ("title", "context") and v is not None}
    if options.get("citations"):
        out["citations"] = {"enabled": True}
    return out


def image(source: str | Path | bytes, media_type: str | None = None) -> dict[str, Any]:
    """An image block from a path, bytes or URL."""
    return attachment(source, media_type)


def document(
    source: str | Path | bytes, *, title: str | None = None, context: str | None = None, citations: bool = False
) -> dict[str, Any]:
    """A document block: a PDF (path, bytes, URL) or plain text (a string that is not a path)."""
    if isinstance(source, str) and not _is_url(source) and not Path(source).expanduser().is_file():
        block = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": source}}
        return {**block, **_doc_options("document", {"title": title, "context": context, "citations": citations})}
    return attachment(source, None, title=title, context=context, citations=citations)


def tool_from_function(fn: Callable[..., Any]) -> dict[str, Any]:
    """A tool definition from a function's name, type hints and docstring (Google-style ``Args:``)."""
    name = fn.__name__
    if not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", name):
        raise RequestValidationError([("tools", f"function name {name!r} is not a valid tool name")])
    summary, arg_docs = _parse_docstring(inspect.getdoc(fn) or "")
    hints = get_type_hints(fn, include_extras=True)
    fields: dict[str, Any] = {}
    for pname, param in inspect.signature(fn).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[pname] = (hints.get(pname, Any), Field(default, description=arg_docs.get(pname)))
    arguments = create_model(f"{name}_input", **fields)
    input_schema = arguments.model_json_schema()
    input_schema.pop("title", None)
    for prop in input_schema.get("properties", {}).values():
        prop.pop("title", None)
    tool: dict[str, Any] = {"name": name, "input_schema": input_schema}
    if summary:
        tool["description"] = summary
    return tool


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The summary (text before ``Args:``) and per-argument descriptions."""
    parts = re.split(r"^(?:Args|Arguments|Parameters):\s*$", doc, maxsplit=1, flags=re.M)
    head, args = parts[0], parts[1] if len(parts) > 1 else ""
    described: dict[str, str] = {}
    current = None
    for line in args.splitlines():
        match = re.match(r"^\s{0,8}(\w+)\s*(\([^)]*\))?:\s*(.*)$", line)
        if match:
            current = match.group(1)
            described[current] = match.group(3).strip()
        elif current and line.strip():
            described[current] += " " + line.strip()
        elif not line.strip() and described:
            current = None
    return head.strip(), described


def output_format(model: type[BaseModel] | dict[str, Any]) -> dict[str, Any]:
    """An ``output_config.format`` (json_schema) from a pydantic model class or a JSON Schema dict."""
    schema = model.model_json_schema() if isinstance(model, type) and issubclass(model, BaseModel) else model
    return {"type": "json_schema", "schema": _closed(schema)}


def _closed(schema: Any) -> Any:
    """Structured output wants every object closed: ``additionalProperties: false``."""
    if isinstance(schema, dict):
        out = {k: _closed(v) for k, v in schema.items()}
        if out.get("type") == "object" and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_closed(v) for v in schema]
    return schema


def is_attachment_value(value: Any) -> bool:
    """Whether a content item is a file path or bytes to attach (not text)."""
    return isinstance(value, (bytes, Path))
