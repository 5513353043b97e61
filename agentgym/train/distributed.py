"""Data-parallel training on accelerate: which rank this process is, and the collectives the trainer needs.

`agentgym train ... --num-processes N` starts N ranks with PyTorch's own launcher
(`python -m torch.distributed.run --standalone --nproc-per-node N -m agentgym.cli train ...`,
our module, never the user's script); the same command under `torchrun` or `accelerate launch`
is detected by the launchers' environment variables (`WORLD_SIZE`, `RANK`, `LOCAL_RANK`).
Every rank then builds an `accelerate.Accelerator` (gloo on CPU, NCCL on GPU) and the
trainer wraps its policy with `Accelerator.prepare_model` (DistributedDataParallel).

FSDP (`agentgym train --fsdp`, or `accelerate launch` of a config with `distributed_type: FSDP`,
both of which set `ACCELERATE_USE_FSDP=true`): the policy (and a frozen reference copy) is
sharded with PyTorch's FSDP2 `fully_shard`, one unit per decoder layer plus the root, on CPU
(gloo) and GPU alike -- our own wrapping, not accelerate's FSDP plugin (which runs on GPUs
only); of an accelerate config's FSDP settings only the sharding strategy is read
(SHARD_GRAD_OP: keep parameters gathered between forward and backward). Rollouts need the
whole policy on every rank and ranks generate different numbers of times, so `full_params`
gathers every parameter once around a rollout (and the no-gradient log-prob passes, and the
vLLM weight sync) and no collective runs inside generation. DeepSpeed is refused.

The split of the work (see `Trainer`): each rank takes whole groups (seeds) of an iteration
and runs its own env workers; the estimator's inputs (one `StepBatch` per rank) are gathered
so every rank computes the advantages of the global batch, exactly as one process would; the
loss is a token mean over the global mini-batch; episode statistics are gathered; rank 0
alone writes metrics and checkpoints.
"""

from __future__ import annotations

import logging
import math
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)


def launched_world() -> int:
    """The number of ranks a launcher (torchrun, accelerate launch) started, 1 outside one."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


def fsdp_requested() -> bool:
    """Whether this run shards the policy (FSDP): `ACCELERATE_USE_FSDP`, set by `agentgym train --fsdp`
    and by `accelerate launch` of an FSDP config."""
    return os.environ.get("ACCELERATE_USE_FSDP", "").lower() in ("1", "true")


def launch(train_argv: Sequence[str], num_processes: int, fsdp: bool = False) -> int:
    """Run `agentgym train` on `num_processes` local ranks; returns the launcher's exit status.

    torch.distributed.run (torchrun) picks a free rendezvous port (`--standalone`), sets each
    rank's environment and stops every rank when one fails.
    """
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={num_processes}",
        "-m", "agentgym.cli", *train_argv,
    ]
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")  # torchrun's own default; set here to keep its banner out
    if fsdp:
        env["ACCELERATE_USE_FSDP"] = "true"
    logger.debug("launching %s", " ".join(command))
    return subprocess.run(command, env=env, check=False).returncode


def split_range(total: int, rank: int, world: int) -> range:
    """The contiguous share of `range(total)` that `rank` takes (sizes differ by at most one)."""
    return range(total * rank // world, total * (rank + 1) // world)


class Ranks:
    """This process among the data-parallel ranks; one rank (`world == 1`) needs no accelerate.

    With several ranks, `accelerator` is the `accelerate.Accelerator` that set up the process
    group and `device` its device for this rank; `fsdp` says whether the policy is sharded.
    """

    def __init__(self, device: str | None = None):
        self.world = launched_world()
        self.accelerator: Any = None
        self.rank = 0
        self.device = device
        self.fsdp = False
        self._mesh: Any = None
        if self.world > 1:
            from accelerate import Accelerator
            from accelerate.utils import DistributedType

            cpu = device == "cpu" or (device is None and not _cuda())
            self.accelerator = Accelerator(cpu=cpu)
            kind = self.accelerator.distributed_type
            self.fsdp = kind == DistributedType.FSDP or fsdp_requested()
            if kind not in (DistributedType.MULTI_CPU, DistributedType.MULTI_GPU, DistributedType.FSDP):
                raise ValueError(
                    f"accelerate config asks for {kind.value}; agentgym train runs DDP or FSDP: use an accelerate "
                    "config with distributed_type: FSDP (or `agentgym train --num-processes N --fsdp`) instead"
                )
            self.rank = self.accelerator.process_index
            self.world = self.accelerator.num_processes
            self.device = "cpu" if cpu else str(self.accelerator.device)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def prepare(self, model: Any) -> Any:
        """The model the update runs through: DDP-wrapped with several ranks, sharded in place
        under FSDP (the same object; build the optimizer after this), else itself."""
        if self.world == 1:
            return model
        if self.fsdp:
            return self.shard(model)
        return self.accelerator.prepare_model(model, device_placement=False)

    def shard(self, model: Any) -> Any:
        """FSDP2 `fully_shard` of each decoder layer, then the root (embeddings, final norm, LM head).
        In place: the model (a peft model too) is the same object, its parameters now DTensor shards.
        Parameters of mixed dtypes (a bf16 LoRA base under fp32 adapters) are gathered in the lowest
        precision, gradients reduced in fp32."""
        import torch
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        if self._mesh is None:
            from torch.distributed.device_mesh import init_device_mesh

            self._mesh = init_device_mesh("cpu" if self.device in (None, "cpu") else "cuda", (self.world,))
        strategy = os.environ.get("FSDP_SHARDING_STRATEGY", "FULL_SHARD").upper()
        if strategy not in ("FULL_SHARD", "SHARD_GRAD_OP", "1", "2"):
            raise ValueError(f"FSDP sharding strategy {strategy} is not supported here; use FULL_SHARD or SHARD_GRAD_OP")
        dtypes = {p.dtype for p in model.parameters()}
        policy = MixedPrecisionPolicy()
        if len(dtypes) > 1:
            low = min(dtypes, key=lambda d: torch.finfo(d).bits)
            policy = MixedPrecisionPolicy(param_dtype=low, reduce_dtype=torch.float32)
        options = {"mesh": self._mesh, "mp_policy": policy,
                   "reshard_after_forward": strategy in ("FULL_SHARD", "1")}
        for layer in decoder_layers(model):
            fully_shard(layer, **options)
        # the root is the causal LM itself, inside a peft wrapper: peft's generate calls the base
        # model's, so the FSDP root must be the module whose forward every call runs
        fully_shard(model.get_base_model() if hasattr(model, "get_base_model") else model, **options)
        return model

    @contextmanager
    def full_params(self, *models: Any) -> Iterator[None]:
        """Under FSDP every parameter of `models` (None skipped) gathered on every rank for the block,
        no collective inside it (ranks may then generate different numbers of times); a no-op
        otherwise. Every rank must enter it (the gather is a collective). Parameters are not
        written back: the block must not change them."""
        if not self.fsdp:
            yield
            return
        from torch.distributed.fsdp import FSDPModule

        units = [m for model in models if model is not None for m in model.modules() if isinstance(m, FSDPModule)]
        for unit in units:
            unit.set_reshard_after_forward(False, recurse=False)
            unit.unshard()
        try:
            yield
        finally:
            reshard = os.environ.get("FSDP_SHARDING_STRATEGY", "FULL_SHARD").upper() in ("FULL_SHARD", "1")
            for unit in units:
                unit.reshard()
                unit.set_reshard_after_forward(reshard, recurse=False)

    def no_sync(self, model: Any, last: bool) -> Any:
        """DDP: skip the gradient all-reduce on all but the last micro-batch. FSDP reduce-scatters
        every backward (its forwards are collectives anyway)."""
        if last or self.world == 1 or self.fsdp:
            return nullcontext()
        return model.no_sync()

    def micro_batches(self, count: int) -> int:
        """How many micro-batches this rank runs: its own under DDP; under FSDP the most of any
        rank (every forward gathers parameters, so all ranks run the same number; the extra ones
        are zero-loss)."""
        return int(self.max(count)) if self.fsdp else count

    def clip_grad_norm(self, params: Sequence[Any], max_norm: float) -> float:
        """`torch.nn.utils.clip_grad_norm_` over the parameters, sharded (FSDP DTensors) or not:
        the global 2-norm of all gradients; gradients scaled by min(1, max_norm / (norm + 1e-6))."""
        import torch

        if not self.fsdp:
            return float(torch.nn.utils.clip_grad_norm_(params, max_norm))
        from torch.distributed.tensor import DTensor

        grads = [p.grad for p in params if p.grad is not None]
        sharded = torch.zeros((), dtype=torch.float64, device=self._comm_device())
        plain = torch.zeros((), dtype=torch.float64, device=self._comm_device())
        for g in grads:
            if isinstance(g, DTensor):
                sharded += g.to_local().double().square().sum()
            else:  # replicated (HiPER's value heads, already summed over the ranks)
                plain += g.double().square().sum()
        torch.distributed.all_reduce(sharded)
        norm = float((sharded + plain).sqrt())
        if math.isfinite(norm):
            coef = min(1.0, max_norm / (norm + 1e-6))
            for g in grads:
                g.mul_(coef)
        return norm

    def full_state_dict(self, model: Any) -> dict[str, Any] | None:
        """Under FSDP the model's full state dict on rank 0's CPU (None elsewhere; every rank must
        call it); None without FSDP (the model's own state dict is whole)."""
        if not self.fsdp:
            return None
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        state = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
        return state if self.is_main else None

    def optimizer_state(self, modules: Any, optimizer: Any) -> dict[str, Any]:
        """The optimizer's state to checkpoint: under FSDP the full state keyed by parameter name
        (collective; whole on rank 0), else `optimizer.state_dict()`."""
        if not self.fsdp:
            return optimizer.state_dict()
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

        return get_optimizer_state_dict(modules, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True))

    def load_optimizer_state(self, modules: Any, optimizer: Any, state: dict[str, Any]) -> None:
        """Load a checkpoint's optimizer state, keyed by parameter name (written under FSDP) or by
        index (written without), into a sharded or unsharded optimizer over `modules`' trainable
        parameters (in the optimizer's order)."""
        by_name = any(isinstance(p, str) for g in state["param_groups"] for p in g["params"])
        if not by_name and not self.fsdp:
            optimizer.load_state_dict(state)
            return
        if not by_name:  # torch numbers the parameters across the groups in order
            names = [n for n, p in modules.named_parameters() if p.requires_grad]
            state = {"state": {names[i]: v for i, v in state["state"].items()},
                     "param_groups": [{**g, "params": [names[i] for i in g["params"]]} for g in state["param_groups"]]}
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

        set_optimizer_state_dict(modules, optimizer, state, options=StateDictOptions(full_state_dict=True))

    def sum(self, values: Sequence[float]) -> list[float]:
        """Element-wise sum over the ranks (float64)."""
        if self.world == 1:
            return [float(v) for v in values]
        import torch

        tensor = torch.tensor(list(values), dtype=torch.float64, device=self._comm_device())
        torch.distributed.all_reduce(tensor)
        return tensor.tolist()

    def max(self, value: float) -> float:
        if self.world == 1:
            return float(value)
        import torch

        tensor = torch.tensor([float(value)], dtype=torch.float64, device=self._comm_device())
        torch.distributed.all_reduce(tensor, op=torch.distributed.ReduceOp.MAX)
        return float(tensor.item())

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's `obj` (picklable), in rank order, on every rank."""
        if self.world == 1:
            return [obj]
        import torch

        out: list[Any] = [None] * self.world
        torch.distributed.all_gather_object(out, obj)
        return out

    def reduce_grads(self, params: Sequence[Any]) -> None:
        """Sum the gradients of parameters outside the DDP module (HiPER's value heads) over the ranks."""
        if self.world == 1:
            return
        import torch

        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            torch.distributed.all_reduce(p.grad)

    def barrier(self) -> None:
        if self.world > 1:
            self.accelerator.wait_for_everyone()

    def _comm_device(self) -> str:
        return "cpu" if self.device in (None, "cpu") else str(self.device)


def end_world() -> None:
    """Leave the process group on every rank: a barrier, then destroy it. Called after training
    ended without error (a rank that exits while gloo's threads still talk to another can abort
    with "terminate called without an active exception"); a no-op in a single process."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def merge_columns(parts: Sequence[dict[str, Any] | None]) -> dict[str, Any] | None:
    """One set of `StepBatch` columns from each rank's, in rank order.

    Trajectory ids are made unique by shifting each rank's past the previous ranks'; a column
    kept only if every rank has it (as `from_trajectories` does within one process).
    """
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    names = [k for k in parts[0] if all(p.get(k) is not None for p in parts)]
    merged: dict[str, Any] = {}
    shift = 0
    traj_ids = []
    for p in parts:
        ids = np.asarray(p["traj_ids"])
        traj_ids.append(ids + shift)
        shift += int(ids.max()) + 1 if len(ids) else 0
    for name in names:
        if name == "traj_ids":
            merged[name] = np.concatenate(traj_ids)
        elif isinstance(parts[0][name], np.ndarray) and parts[0][name].dtype != object:
            merged[name] = np.concatenate([p[name] for p in parts])
        else:
            merged[name] = [v for p in parts for v in p[name]]
    return merged


def decoder_layers(model: Any) -> list[Any]:
    """The transformer blocks of a transformers causal LM (or a peft model around one): the
    modules whose class the model lists in `_no_split_modules`."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    names = set(getattr(base, "_no_split_modules", None) or ())
    return [m for m in base.modules() if type(m).__name__ in names]


def _cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False
