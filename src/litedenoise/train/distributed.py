"""Multi-process training with ``torchrun``: one process per GPU (nccl) or per CPU worker (gloo).

Launch ``torchrun --nproc_per_node=N -m litedenoise.cli train ...``; a plain ``litedenoise
train`` is the one-process case of the same code. Each step's batch is the single-process
batch split into equal, disjoint shards, one per rank; DistributedDataParallel averages the
gradients, so N processes take the same steps as one (up to float summation order).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Processes:
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def start() -> Processes:
    """Join the process group that ``torchrun`` describes in the environment (or run alone)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if torch.cuda.is_available():
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Processes(rank, world_size, device)


def mean_over_processes(value: torch.Tensor, processes: Processes) -> torch.Tensor:
    """The mean of a scalar tensor over all processes (itself when running alone)."""
    if processes.world_size == 1:
        return value
    total = value.detach().clone()
    dist.all_reduce(total)
    return total / processes.world_size


def any_process(flag: bool, processes: Processes) -> bool:
    """True on every process if ``flag`` is True on any one of them."""
    if processes.world_size == 1:
        return flag
    value = torch.tensor(float(flag), device=processes.device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def stop(processes: Processes) -> None:
    if processes.world_size > 1 and dist.is_initialized():
        dist.destroy_process_group()
