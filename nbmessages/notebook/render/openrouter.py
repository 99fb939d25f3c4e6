"""What the renderer shows of OpenRouter's additions: availability in the error box, routing folded under the answer."""

from __future__ import annotations

from typing import Any

from ...types.openrouter import Availability, RouterMetadata


def availability_lines(error: BaseException) -> list[str]:
    """The error box's lines for an availability error: the code, retry advice, the fallbacks as ``--models``."""
    found: Availability | None = getattr(error, "availability", None)
    if found is None:
        return []
    retry = "retryable" if found.retryable else "not retryable"
    if found.retryable and found.retry_after is not None:
        retry += f" after {found.retry_after:g} s"
    lines = [f"availability: `{found.code}` ({retry})"]
    if found.excluded_by:
        lines.append(f"excluded by: {', '.join(found.excluded_by)}")
    if found.constraint is not None and (found.constraint.field or found.constraint.detail):
        lines.append(f"constraint {found.constraint.field or ''}: {found.constraint.detail or ''}".strip())
    if found.affected_providers:
        lines.append(f"providers: {', '.join(found.affected_providers)}")
    if found.models_option:
        lines.append(f"Try a fallback: `--models {found.models_option}`")
    return lines


def router_of(message: dict[str, Any] | None) -> RouterMetadata | None:
    """The router metadata of a raw message dict, when it carries any."""
    raw = (message or {}).get("openrouter_metadata")
    if isinstance(raw, RouterMetadata):
        return raw
    if not isinstance(raw, dict):
        return None
    try:
        return RouterMetadata.model_validate(raw)
    except ValueError:
        return None


def routing_markdown(router: RouterMetadata) -> str:
    """The routing facts folded under the answer (a ``<details>`` block; its summary says who served)."""
    items = "\n".join(f"- {line}" for line in router.detail_lines())
    return f"<details><summary>Routing: {router.headline()}</summary>\n\n{items}\n\n</details>"


def routing_plain(router: RouterMetadata) -> str:
    """The routing facts as plain text."""
    return "\n".join([f"Routing: {router.headline()}", *(f"  {line}" for line in router.detail_lines())])
