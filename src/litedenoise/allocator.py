"""The process's memory allocator: have glibc's malloc keep freed memory for the next tile.

A full-resolution tile's activations are 100 MB and more each, above the largest block glibc
serves from its heap (32 MB), so by default each one is a new mmap whose pages fault in on first
touch and are unmapped when freed: over half a million page faults per Full-HD forward of the
student, 40% of its time on 2 AVX2 cores. With mmap and trimming off, later tensors and tiles
reuse the heap. The cost: the heap fragments, so a tile's working memory is up to 1.6x what it
is without (the networks' fp32 ``working_bytes_per_pixel`` lines cover it), and the process keeps
its peak until it exits. docs/deployment.md has the measurements.

It is process-wide, so the CLI sets it and the library leaves it to its caller. Torch-free, so
that commands which run no network import nothing heavy for it.
"""

from __future__ import annotations

import ctypes
import os

# mallopt's parameter numbers, from glibc's <malloc.h>
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4


def reuse_freed_memory() -> bool:
    """Turn off glibc's mmap for large blocks and its trimming of the heap. True if done; False,
    doing nothing, where the C library is not glibc (musl, macOS, Windows)."""
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"):
            return False
        libc = ctypes.CDLL(None)
    except (ValueError, OSError, AttributeError):
        return False
    return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))


def cli_reuses_freed_memory(runtime: str) -> bool:
    """Whether the CLI sets the allocator for ``runtime`` ("torch", "torch-bf16", "onnx", "tflite"):
    for fp32 PyTorch only, the runtime whose memory lines were measured with it
    (docs/foundation.md); bf16, ONNX Runtime and LiteRT were not measured so."""
    return runtime == "torch"
