"""The HTTP clients: transport, SSE streams, retries, typed errors, call records for observers."""

from .asynchronous import AsyncClient
from .sync import Client

__all__ = ["AsyncClient", "Client"]
