"""``Request``: one request object for every front end, built from Python values, validated before sending."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr, ValidationError

from ..types import Message, MessageCreateParams, MessageParam, RequestValidationError
from ..types.request_checks import json_problem
from ..types.validation import problems_from_pydantic, semantic_problems
from .content import attachment, output_format, tool_from_function


class Request(MessageCreateParams):
    """A Messages request; ``to_body()`` is exactly the JSON that is sent (unset fields omitted).

    Besides wire values it takes Python ones: ``messages="Hi"`` (one user turn), content items that are
    paths or bytes (attached as images or PDFs), ``Message`` objects (replayed as assistant turns),
    functions in ``tools`` (tool definitions from their hints and docstrings) and ``output_format=`` a
    pydantic model (structured output, parsed back by ``parse()``). Fields the API documents later go in
    ``extra_body``; any other unknown key is refused.
    """

    extra_body: dict[str, Any] | None = Field(default=None, exclude=True)
    # defaults, not default_factory=dict: pydantic inspects a factory's signature on every instance (40 µs)
    _functions: dict[str, Callable[..., Any]] = PrivateAttr(default={})
    _output_type: Any = PrivateAttr(default=None)
    _call_meta: dict[str, Any] = PrivateAttr(default={})  # chat name and tags for the record

    def __init__(self, **data: Any) -> None:
        data, functions, output_type = _from_python(data)
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise RequestValidationError(problems_from_pydantic(exc, data)) from None
        problems = list(semantic_problems(self))
        if problems:
            raise RequestValidationError(problems)
        self._functions = functions
        self._output_type = output_type

    @classmethod
    def of(cls, request: Request | dict[str, Any] | None = None, **params: Any) -> Request:
        """A request from another request, a dict or keywords (keywords override)."""
        if request is None:
            return cls(**params)
        if isinstance(request, Request):
            return request.replace(**params) if params else request
        return cls(**{**request, **params})

    def replace(self, **changes: Any) -> Request:
        """A copy with some fields changed (validated again)."""
        data = {**self.to_dict(), "extra_body": self.extra_body, **changes}
        new = Request(**data)
        new._functions = {**self._functions, **new._functions}
        if "output_format" not in changes:
            new._output_type = self._output_type
        return new

    def with_prompt(self, text: str) -> Request:
        """This request with one user turn of ``text`` as its messages (a template filled row by row).

        Only the new turn is checked: the rest was when this request was made, with a user turn of its own.
        """
        if not text.strip() or json_problem(text) is not None:  # the whole check names what is wrong
            return self.replace(messages=text)
        return self.model_copy(update={"messages": [MessageParam(role="user", content=text)]})

    @property
    def call_meta(self) -> dict[str, Any]:
        """What the call notes beside this request, never sent: ``chat``, ``tags`` and per-call options (``openrouter``)."""
        return self._call_meta

    def mark_call(self, chat: str | None = None, tags: dict[str, str] | None = None, **more: Any) -> Request:
        """Note the chat name, tags and other facts of this request's call (never sent); returns the request."""
        self._call_meta = {"chat": chat, "tags": tags, **more}
        return self

    def streamed(self, stream: bool = True) -> Request:
        """This request with ``stream`` set (``None`` when off); a plain copy: nothing else needs validating again."""
        if bool(self.stream) == stream:
            return self
        return self.model_copy(update={"stream": True if stream else None})

    def to_body(self) -> dict[str, Any]:
        """The JSON body, with ``extra_body`` merged in."""
        body = self.to_dict()
        if self.extra_body:
            body.update(self.extra_body)
        return body

    def to_json(self, indent: int | None = 2) -> str:
        """The JSON body as text."""
        return json.dumps(self.to_body(), indent=indent, ensure_ascii=False)

    @property
    def functions(self) -> dict[str, Callable[..., Any]]:
        """The Python functions behind the tools that came from functions, by tool name."""
        return dict(self._functions)

    @property
    def output_type(self) -> Any:
        """The pydantic model that structured output is parsed into, if one was given."""
        return self._output_type

    def parse(self, message: Message) -> Any:
        """The message's structured output, parsed into ``output_type`` (or plain JSON when none)."""
        if self._output_type is None:
            return message.json_output()
        return self._output_type.model_validate_json(message.text)

    def followed_by(self, *turns: Any) -> Request:
        """This request with more turns appended (an assistant Message, a user string, block lists)."""
        return self.replace(messages=[*self.to_dict()["messages"], *(_turn(t) for t in turns)])


def _from_python(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Callable[..., Any]], Any]:
    """Wire values from Python ones; also the functions behind tools and the output type."""
    data = dict(data)
    if isinstance(data.get("messages"), (str, Message)):
        data["messages"] = [data["messages"]]
    if isinstance(data.get("messages"), list):
        data["messages"] = [_turn(m) for m in data["messages"]]
    functions: dict[str, Callable[..., Any]] = {}
    if isinstance(data.get("tools"), list):
        data["tools"] = [_tool(t, functions) for t in data["tools"]]
    output_type = None
    fmt = data.pop("output_format", None)
    if fmt is not None:
        output_type = fmt if isinstance(fmt, type) and issubclass(fmt, BaseModel) else None
        config = dict(data.get("output_config") or {})
        config["format"] = output_format(fmt)
        data["output_config"] = config
    if isinstance(data.get("stop_sequences"), str):
        data["stop_sequences"] = [data["stop_sequences"]]
    return data, functions, output_type


def _turn(turn: Any) -> Any:
    if isinstance(turn, str):
        return {"role": "user", "content": turn}
    if isinstance(turn, Message):
        return turn.to_param()
    if isinstance(turn, dict) and isinstance(turn.get("content"), list):
        return {**turn, "content": [_content_item(c) for c in turn["content"]]}
    return turn


def _content_item(item: Any) -> Any:
    if isinstance(item, str):
        return {"type": "text", "text": item}
    if isinstance(item, (bytes, Path)):
        return attachment(item)
    if isinstance(item, BaseModel):
        return item.model_dump(mode="json", exclude_none=True, by_alias=True)
    return item


def _tool(tool: Any, functions: dict[str, Callable[..., Any]]) -> Any:
    if callable(tool) and not isinstance(tool, (dict, BaseModel)):
        definition = tool_from_function(tool)
        functions[definition["name"]] = tool
        return definition
    return tool
