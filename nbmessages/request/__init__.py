"""Request building: the one ``Request`` type, content from Python values, backend profiles, templating."""

from .builder import Request
from .content import attachment, document, image, output_format, tool_from_function
from .profiles import Profile

__all__ = ["Profile", "Request", "attachment", "document", "image", "output_format", "tool_from_function"]
