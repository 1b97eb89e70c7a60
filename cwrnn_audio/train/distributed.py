"""torch.distributed for training launched by torchrun: NCCL on GPUs, gloo on CPUs.

:func:`process_group` joins the group torchrun describes in the environment (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``; multi-node runs set them
through torchrun's ``--nnodes`` / ``--rdzv-endpoint``), or stands alone as rank 0 of 1.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch

from ..errors import ParameterError


class SharedError(ParameterError):
    """A user error every rank of a group meets alike: each raises it, rank 0 alone shows it."""


TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class Ranks:
    """This process's place in the group, and the collectives the trainer uses."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def grouped(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.grouped:
            torch.distributed.barrier()

    def sum(self, values) -> list[float]:
        """Element-wise sum of ``values`` over all ranks (float64)."""
        t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=self.device)
        if self.grouped:
            torch.distributed.all_reduce(t)
        return t.tolist()

    def gather(self, obj) -> list:
        """Every rank's ``obj`` (JSON-like), in rank order."""
        if not self.grouped:
            return [obj]
        out = [None] * self.world_size
        torch.distributed.all_gather_object(out, obj)
        return out


@contextlib.contextmanager
def process_group(device: str = "cpu", *, distributed: bool = True):
    """Yield :class:`Ranks`; with ``distributed``, join (and afterwards leave) torchrun's group."""
    if not distributed:
        yield Ranks(0, 1, torch.device(device))
        return
    dist = torch.distributed
    if dist.is_initialized():  # the caller owns the group
        yield _ranks(device)
        return
    missing = [k for k in TORCHRUN_ENV if k not in os.environ]
    if missing:
        raise ParameterError(
            f"distributed training needs torchrun's environment ({', '.join(missing)} not set); launch with "
            "torchrun --standalone --nproc-per-node N -m cwrnn_audio train ... --distributed"
        )
    cuda = str(device).startswith("cuda")
    if cuda:
        if not torch.cuda.is_available():
            raise ParameterError(f"device={device!r} but CUDA is not available; use --device cpu (gloo)")
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    dist.init_process_group("nccl" if cuda else "gloo")
    try:
        yield _ranks(device)
    finally:
        dist.destroy_process_group()


def _ranks(device) -> Ranks:
    cuda = str(device).startswith("cuda")
    dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if cuda else torch.device(device)
    return Ranks(torch.distributed.get_rank(), torch.distributed.get_world_size(), dev)
