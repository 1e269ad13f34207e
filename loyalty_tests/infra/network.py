"""Can the Hugging Face hub be reached? Asked once, quickly, before a hub id is handed to
transformers, whose own retries take most of a minute to say the network is down.

The hub is where ``$HF_ENDPOINT`` says (default https://huggingface.co), reached through the
proxy the environment names, if any; ``HF_HUB_OFFLINE=1`` (or ``TRANSFORMERS_OFFLINE=1``) means
it is not to be reached at all.
"""

from __future__ import annotations

import os
import socket
import threading
import urllib.request
from urllib.parse import urlsplit

DEFAULT_ENDPOINT = "https://huggingface.co"
REACH_TIMEOUT_SECONDS = 3.0
_TRUE = {"1", "true", "yes", "on"}


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT


def hub_offline() -> bool:
    """Whether the user said not to use the network (huggingface_hub's own switches)."""
    return any(os.environ.get(name, "").strip().lower() in _TRUE for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def hub_unreachable_reason(timeout: float = REACH_TIMEOUT_SECONDS) -> str | None:
    """None when a TCP connection to the hub (or its proxy) opens within ``timeout`` seconds;
    else why not, in words for an error message."""
    endpoint = hub_endpoint()
    if hub_offline():
        return "HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is set"
    parts = urlsplit(endpoint)
    proxy = urllib.request.getproxies().get(parts.scheme or "https")
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        parts = urlsplit(proxy if "://" in proxy else "http://" + proxy)
    host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    if not host:
        return f"HF_ENDPOINT {endpoint!r} names no host"
    outcome: list[str | None] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                outcome.append(None)
        except OSError as error:
            outcome.append(f"no connection to {host}:{port} ({error})")

    # a thread, because name resolution ignores the socket timeout and can hang on a dead resolver
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return outcome[0] if outcome else f"no connection to {host}:{port} within {timeout:.0f} s"
