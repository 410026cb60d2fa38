import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from litedenoise import cli

_GLIBC = hasattr(os, "confstr") and (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")

# page faults taken by four 64 MB tensors, each allocated, written and freed after eight others (glibc settles on reusing two blocks)
# (torch, not numpy: numpy asks for huge pages, which hide the faults)
_FAULTS_SCRIPT = """
import resource, sys
import torch
from litedenoise.allocator import reuse_freed_memory
if sys.argv[1] == "reuse":
    assert reuse_freed_memory()
for _ in range(8):
    torch.empty(16 * 2**20).fill_(1.0)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(4):
    torch.empty(16 * 2**20).fill_(1.0)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    return int(subprocess.run([sys.executable, "-c", _FAULTS_SCRIPT, mode], capture_output=True, text=True, check=True).stdout)


@pytest.mark.skipif(not _GLIBC, reason="the setting is glibc's")
def test_reused_memory_is_not_faulted_in_again_for_each_large_buffer():
    # glibc's default maps each 64 MB buffer anew: 16,384 faults of 4 KiB pages per buffer
    assert _faults("default") > 4 * 8000
    assert _faults("reuse") < 1000


@pytest.mark.parametrize("runtime, sets_it", [("torch", True), ("torch-bf16", False)])
def test_denoise_sets_the_allocator_for_fp32_pytorch_only(runtime, sets_it, weights, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(cli, "reuse_freed_memory", lambda: calls.append(runtime) or True)
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "a.png")
    assert cli.main(["denoise", str(tmp_path / "a.png"), "--weights", str(weights), "--runtime", runtime]) == 0
    assert calls == ([runtime] if sets_it else [])
