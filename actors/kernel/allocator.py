"""Handing freed memory back to the operating system after a burst (glibc only).

A burst of metrics leaves a backlog of rows that the writer drains; once it
is written the memory is free, but glibc keeps free heap pages mapped, so the
process's RSS stays at the burst's peak. ``malloc_trim(0)`` returns them
(measured: RSS 176 -> 108 MB after a burst of 1,000,000 metrics). Elsewhere
(musl, macOS, Windows) this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Callable
from typing import Final

__all__ = ["TRIM_AFTER_ROWS", "trim"]

logger = logging.getLogger("swarmpulse.allocator")

TRIM_AFTER_ROWS: Final = 100_000
"""Rows written since the backlog was last empty that make a burst worth a trim."""


def _find_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        function = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return function


_malloc_trim: Final = _find_trim()


def trim() -> bool:
    """Return freed heap memory to the system; False where the C library cannot."""
    if _malloc_trim is None:
        return False
    _malloc_trim(0)
    return True
