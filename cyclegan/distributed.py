"""Several processes, one model: torch.distributed as torchrun sets it up.

    torchrun --nproc_per_node=2 train/run.py ...         # 2 processes on this machine

torchrun sets RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT; `setup` joins
the process group (NCCL between GPUs, gloo between CPUs). Without torchrun everything
here is the single-process no-op: rank 0 of a world of 1. Each rank trains on its own
shard of the data (cyclegan.data.EpochSampler) and keeps its own image pool;
DistributedDataParallel averages the gradients, so the weights stay identical.
"""

import os
from datetime import timedelta

import torch
import torch.distributed as dist


def setup(timeout_s: float = 600) -> torch.device:
    """Join the process group when launched by torchrun; returns this rank's default device.

    `timeout_s` bounds every collective: a rank that died or hangs makes the others fail
    with an error after that long instead of waiting forever.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return None
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)  # "cuda" then means this rank's GPU
        backend = "nccl"
    else:
        backend = "gloo"
    dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s))
    return torch.device("cuda", local_rank) if backend == "nccl" else torch.device("cpu")


def cleanup() -> None:
    """Leave the process group together: a rank that tears down its gloo connections while
    another still uses them can abort the other process ("terminate called without an
    active exception"), so all ranks first meet at a barrier. A rank that died makes the
    barrier fail; the group is destroyed anyway."""
    if not dist.is_initialized():
        return
    try:
        dist.barrier()
    except RuntimeError:  # DistBackendError included
        pass
    dist.destroy_process_group()


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def is_main() -> bool:
    """Rank 0: the one process that logs, samples, writes checkpoints and publishes."""
    return rank() == 0


def mean(x: torch.Tensor) -> torch.Tensor:
    """The element-wise mean of `x` over the ranks (a copy; `x` itself is left alone)."""
    x = x.detach().clone()
    if dist.is_initialized():
        dist.all_reduce(x)  # SUM: gloo has no AVG
        x /= dist.get_world_size()
    return x


def any_rank(flag: bool) -> bool:
    """True on every rank when `flag` is True on any (e.g. a stop request that reached one)."""
    if not dist.is_initialized():
        return flag
    t = torch.tensor([float(flag)], device="cuda" if dist.get_backend() == "nccl" else "cpu")
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def gather(obj) -> list:
    """[obj of rank 0, obj of rank 1, ...] on every rank (any picklable object)."""
    if not dist.is_initialized():
        return [obj]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out
