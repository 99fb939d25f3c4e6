"""Base models: response objects keep what the server adds; request params refuse typos."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Tag


def _private_first(self: BaseModel, name: str) -> Any:
    """A private attribute read straight from pydantic's store, else pydantic's own lookup (which, for a private
    attribute, raises and catches an AttributeError on the way: 5 µs a read, a dozen reads a call)."""
    try:
        private = object.__getattribute__(self, "__pydantic_private__")
    except AttributeError:
        private = None
    if private is not None and name in private:
        return private[name]
    return BaseModel.__getattr__(self, name)  # type: ignore[attr-defined]


class WireModel(BaseModel):
    """A response object: unknown fields a server adds later are kept, never dropped."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    if not TYPE_CHECKING:  # as on BaseModel: type checkers keep reporting unknown attributes
        __getattr__ = _private_first

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict, unset and None fields omitted."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


class ParamModel(BaseModel):
    """A request object: an unknown key is refused, so a typo never goes out silently."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    if not TYPE_CHECKING:
        __getattr__ = _private_first

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict, unset and None fields omitted."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


class OpenParamModel(ParamModel):
    """A request object of an open family (server tools, plugins, replayed blocks): extras pass through."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


def type_tag(known: Iterable[str], fallback: str = "unknown") -> Callable[[Any], str]:
    """A discriminator on ``type`` that sends unknown types to ``fallback`` instead of failing."""
    names = frozenset(known)

    def tag(value: Any) -> str:
        t = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
        return t if t in names else fallback

    return tag


def tagged(fallback: str = "unknown", tag: Callable[[Any], str] | None = None, **members: Any) -> Any:
    """An open discriminated union over ``type``: ``tagged(text=TextBlock, unknown=UnknownBlock)``."""
    # tags are bracketed in error locations, so a tag never reads as a field of the data ("text" of a text block)
    options = tuple(Annotated[cls, Tag(f"<{name}>")] for name, cls in members.items())
    choose = tag or type_tag(members, fallback)
    return Annotated[Union[options], Discriminator(lambda value: f"<{choose(value)}>")]  # noqa: UP007
