"""The renderer shared by every front end (the magic, the playground, rich reprs): content → MIME bundle."""

from .display import DEFAULT_INTERVAL, IPythonPublisher, LiveDisplay, Publisher, display_mode
from .markdown import LITERAL_DOLLAR, close_fences, escape_dollars, hold_partial_row, stable_markdown, to_html
from .status import Status, add_cost, add_usage, error_markdown, error_plain, price, status_of, stop_note
from .view import Transcript, content_of, render_bundle, render_markdown, render_plain

__all__ = [
    "DEFAULT_INTERVAL", "LITERAL_DOLLAR", "IPythonPublisher", "LiveDisplay", "Publisher", "Status", "Transcript", "add_cost", "add_usage", "close_fences",
    "content_of", "display_mode", "error_markdown", "error_plain", "escape_dollars", "hold_partial_row", "price",
    "render_bundle", "render_markdown", "render_plain", "stable_markdown", "status_of", "stop_note", "to_html",
]
