"""The store's one error type, so no azure.core exception escapes the store.

Raised by every `shared.store` module; caught by the use cases, which retry or re-raise a
transient one (Event Grid redelivers) and record a permanent one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


class StoreError(Exception):
    """Table Storage failed. `transient` says whether trying again later may work."""

    transient: bool = False

    def __init__(self, message: str, *, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class TransientStoreError(StoreError):
    """Network, timeout, 408, 429, 5xx: try again later."""

    transient = True


class PermanentStoreError(StoreError):
    """Anything else (bad key, bad request, forbidden): it will not work by retrying."""


@contextmanager
def wrapped(operation: str) -> Iterator[None]:
    """Turn azure.core exceptions raised inside into StoreError, chained."""
    from azure.core import exceptions as core

    try:
        yield
    except StoreError:
        raise
    except (core.ServiceRequestError, core.ServiceResponseError) as e:
        how = "did not answer in time" if "timed out" in str(e).lower() else "unreachable"
        raise TransientStoreError(f"{operation}: storage {_endpoint_in(e)}{how} ({type(e).__name__})") from e
    except core.ClientAuthenticationError as e:
        raise PermanentStoreError(f"{operation}: not authorised on storage", status=e.status_code) from e
    except core.HttpResponseError as e:
        status = e.status_code
        code = str(getattr(e, "error_code", "") or "")
        message = f"{operation}: storage answered {status} {code}".strip()
        if status is None or status in (408, 429) or status >= 500:
            raise TransientStoreError(message, status=status, code=code) from e
        raise PermanentStoreError(message, status=status, code=code) from e
    except core.AzureError as e:
        raise TransientStoreError(f"{operation}: {type(e).__name__}") from e


_HOST_PORT = re.compile(r"host='([^'\s]{1,253})', port=(\d{1,5})")


def _endpoint_in(error: BaseException) -> str:
    """ "at host:port " as the transport's message names it (host and port only: never a path or query,
    which may carry a SAS token), or "" when it names none."""
    found = _HOST_PORT.search(str(error))
    return f"at {found.group(1)}:{found.group(2)} " if found else ""


def call(operation: str, fn: Callable[[], T]) -> T:
    with wrapped(operation):
        return fn()
