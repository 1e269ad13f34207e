"""The Ray cluster address a run joins: fail fast, naming it, when nothing listens there."""

from __future__ import annotations

from ..errors import LoyaltyError


def reachable_or_fail(address: str, timeout: float) -> None:
    """Fail within ``timeout`` seconds, naming the address, when nothing listens at a HOST:PORT
    (or ray://HOST:PORT) address; ``local`` and ``auto`` are Ray's to resolve."""
    import socket

    where = address.split("://", 1)[-1]
    if address in ("local", "auto") or ":" not in where:
        return
    host, _, port = where.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return
    except (OSError, ValueError) as error:
        reason = "timed out" if isinstance(error, TimeoutError) else str(error) or type(error).__name__
        raise LoyaltyError(
            f"could not reach the Ray cluster at {address!r} within {timeout:g} s ({reason}); check "
            "--loyalty-ray-address (HOST:PORT of a running head node; leave it unset for a local "
            "instance, 'auto' to join the cluster `ray start` made here)"
        ) from None
