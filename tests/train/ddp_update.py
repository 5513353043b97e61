"""One update of a Trainer on given rollouts, as one rank of a torchrun world (run by test_train_distributed.py).

    python -m torch.distributed.run --standalone --nproc-per-node N tests/train/ddp_update.py CONFIG ROLLOUTS OUT

Each rank keeps the rollouts of its own groups (renumbered to its local group indices, as its
own vector env would number them), runs `credit` and `update`, and rank 0 writes the updated
parameters and the update's statistics to OUT (torch.save); then a second update of one turn
per mini-batch (ranks mostly idle), after which every rank's parameter norms are written too.
Under FSDP (ACCELERATE_USE_FSDP=true) the parameters are gathered whole first; rank 0 also
writes the weights the vLLM sync would load, the checkpoint is written, and a new trainer
resumes from it (its gathered parameters and optimizer state are written too).
"""

import json
import pickle
import sys

import torch

from agentgym.train.config import TrainConfig
from agentgym.train.distributed import end_world
from agentgym.train.trainer import Trainer


def parameters(trainer: Trainer) -> dict[str, torch.Tensor]:
    """The policy's parameters and HiPER's value heads' (outside DDP, summed by hand); FSDP shards
    gathered whole (a collective: every rank calls this)."""
    heads = trainer.value_heads.named_parameters() if trainer.value_heads is not None else []
    named = [*trainer.model.named_parameters(), *((f"value_heads.{n}", p) for n, p in heads)]
    return {n: (p.full_tensor() if hasattr(p, "full_tensor") else p).detach().clone() for n, p in named}


def main(config_path: str, rollouts_path: str, out_path: str) -> None:
    trainer = Trainer(TrainConfig.from_dict(json.loads(open(config_path).read())))
    try:
        with open(rollouts_path, "rb") as f:
            trajectories = pickle.load(f)
        mine = [t for t in trajectories if t.group in trainer.group_ids]
        for t in mine:
            t.group = trainer.group_ids.index(t.group)
        turns, credit = trainer.credit(mine)
        stats = trainer.update(turns)
        params = parameters(trainer)
        # then one optimizer step per turn of the global batch: most of a rank's mini-batches are
        # empty, so it joins the gradient all-reduce with a zero loss; the ranks must stay equal
        trainer.config.mini_batch_size = 1
        trainer.update(turns)
        now = parameters(trainer)
        local = {n: p for n, p in trainer.model.named_parameters()}
        shards = [(getattr(local[n], "to_local", lambda n=n: local[n])()).numel() for n in local]
        norms = trainer.ranks.gather([float(now[n].double().norm()) for n in local])
        out = {"params": params, "stats": stats, "credit": credit, "world": trainer.ranks.world,
               "turns": len(turns), "norms": norms, "after": now, "shard_numel": sum(shards)}
        if trainer.ranks.fsdp:
            from agentgym.llm.vllm_backend import policy_weights

            out["synced"] = dict(policy_weights(trainer.model))  # the vLLM sync's per-tensor gathers
            trainer.save()
            out["saved_optimizer"] = trainer.ranks.optimizer_state(trainer._stateful(), trainer.optimizer)
            trainer.config.resume = True  # a new trainer resumes from that checkpoint
            resumed = Trainer(trainer.config)
            try:
                out["resumed"] = parameters(resumed)
                out["resumed_optimizer"] = resumed.ranks.optimizer_state(resumed._stateful(), resumed.optimizer)
            finally:
                resumed.close()
        if trainer.ranks.is_main:
            torch.save(out, out_path)
    finally:
        trainer.close()
    end_world()


if __name__ == "__main__":
    main(*sys.argv[1:4])
