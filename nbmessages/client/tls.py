"""One SSL context per process for the clients' default HTTP pools (loading the CA roots takes ~20 ms)."""

from __future__ import annotations

import functools
import os
import ssl

import httpx


def ssl_context() -> ssl.SSLContext:
    """httpx's default context (certifi's roots, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` as httpx reads them)."""
    return _made(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.cache
def _made(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    return httpx.create_ssl_context()  # keyed by the variables it reads, so setting one later still counts
