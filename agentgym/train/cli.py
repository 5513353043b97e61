"""`agentgym train ALGO --env ID --model M [--config FILE] [--set key=value ...] [--num-processes N]`.

With `--num-processes N` (N > 1) the command resolves the config, writes it to a file and
starts N ranks of `python -m agentgym.cli train ALGO --config FILE` under PyTorch's launcher
(see `agentgym.train.distributed`). Under `torchrun` or `accelerate launch` the same command
runs as one rank of the launcher's world.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from agentgym.train.config import ALGORITHMS, TrainConfig

logger = logging.getLogger(__name__)

#: command-line flag -> config field (flags given override the config file)
_FLAGS: dict[str, str] = {
    "env": "env", "model": "model", "iterations": "iterations", "groups": "groups", "group_size": "group_size",
    "seed": "seed", "lr": "lr", "output": "output_dir", "device": "device", "lora_rank": "lora_rank",
    "backend": "backend", "max_new_tokens": "max_new_tokens", "vector_backend": "vector_backend",
    "output_dir": "output_dir", "gradient_checkpointing": "gradient_checkpointing",
    "vllm_gpu_memory_utilization": "vllm_gpu_memory_utilization", "vllm_tensor_parallel_size": "vllm_tensor_parallel_size",
    "vllm_max_model_len": "vllm_max_model_len", "vllm_sleep": "vllm_sleep",
}


def add_commands(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train", help="train an LLM agent with GRPO, RLOO, GiGPO, HGPO, HiPER or MARS",
        description="Rollout -> credit -> PPO-clip update. Writes OUTPUT/metrics.jsonl, OUTPUT/config.json and "
        "OUTPUT/checkpoint (resume with --resume). Recipes at paper scale: baselines/.",
    )
    p.add_argument("algo", choices=sorted(ALGORITHMS), help="the trainer")
    p.add_argument("--env", help="registered env id (default Sokoban-v0)")
    p.add_argument("--model", help="smollm2-135m (embedded, default), random:<arch>, a local path or a hub name")
    p.add_argument("--config", help="a JSON or TOML file of TrainConfig fields (flags override it)")
    p.add_argument("--iterations", type=int)
    p.add_argument("--groups", type=int, help="seeds per iteration")
    p.add_argument("--group-size", type=int, help="episodes per seed")
    p.add_argument("--seed", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--lora-rank", type=int, help="0 = full fine-tuning")
    p.add_argument("--max-new-tokens", type=int)
    p.add_argument("--backend", choices=["transformers", "vllm"], help="rollout generation")
    p.add_argument("--vector-backend", choices=["sync", "subprocess", "ray"], help="env workers")
    p.add_argument("--device", help="cuda or cpu")
    p.add_argument("--output", "-o", help="run directory (default runs/ALGO-ENV)")
    p.add_argument("--resume", action="store_true", help="continue from OUTPUT/checkpoint")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                   help="any other config field, e.g. --set kl_coef=0 --set advantage={'mode':'mean_std_norm'}")
    p.add_argument("--num-processes", type=int, default=1, metavar="N",
                   help="data-parallel ranks on this machine (DDP through accelerate; gloo on CPU, NCCL on GPU); "
                   "groups must be >= N. torchrun / accelerate launch start the ranks themselves")
    p.add_argument("--fsdp", action="store_true",
                   help="with several ranks: shard the policy, gradients and optimizer states over them (FSDP2) "
                   "instead of DDP; `accelerate launch` of a config with distributed_type: FSDP does the same")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    # memory and the rollout engine
    p.add_argument("--output-dir", help="run directory (same as --output)")
    p.add_argument("--plan", action="store_true",
                   help="print the config's GPU memory plan (weights, gradients, optimizer, activations, reference, "
                   "vLLM) and exit; exit status 1 when it does not fit")
    p.add_argument("--gpu-memory", metavar="GPU",
                   help="for --plan: GiB (80), a name (h100, h200, a100-40) or 'Nx NAME' (2x h100, '4x h100 (FSDP)'); "
                   "default: the config's hardware field, else this machine's GPU")
    p.add_argument("--gradient-checkpointing", action=argparse.BooleanOptionalAction, default=None,
                   help="recompute layers in backward (default: on with CUDA)")
    p.add_argument("--vllm-gpu-memory-utilization", type=float, help="share of the GPU vLLM takes (default 0.4)")
    p.add_argument("--vllm-tensor-parallel-size", type=int, help="GPUs one vLLM engine spans (default 1)")
    p.add_argument("--vllm-max-model-len", type=int, help="vLLM context length (default prompt + response tokens)")
    p.add_argument("--vllm-sleep", action=argparse.BooleanOptionalAction, default=None,
                   help="free vLLM's GPU memory during updates (sleep mode; default on)")
    p.set_defaults(func=cmd_train)


def build_config(args: argparse.Namespace) -> TrainConfig:
    """The config of a `train` invocation: file, then flags, then --set overrides."""
    values: dict[str, Any] = {"algo": args.algo}
    for flag, name in _FLAGS.items():
        value = getattr(args, flag, None)
        if value is not None:
            values[name] = value
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    for item in args.overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or key not in fields:
            raise ValueError(f"--set {item!r}: expected FIELD=VALUE with FIELD one of {', '.join(sorted(fields))}")
        try:
            values[key] = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            values[key] = raw.strip()
    if args.resume:
        values["resume"] = True
    env = values.get("env", "Sokoban-v0")
    if args.config:
        config = TrainConfig.from_file(args.config, **values)
    else:
        values.setdefault("output_dir", f"runs/{args.algo}-{env}")
        if _smoke(values):
            for key, value in CPU_SMOKE.items():
                values.setdefault(key, value)
            logger.warning("CPU smoke scale: %s (flags or --config change it)",
                           ", ".join(f"{k}={v}" for k, v in CPU_SMOKE.items()))
        config = TrainConfig.from_dict(values)
    return config


#: What `agentgym train ALGO` without --config runs on a CPU with the embedded model: one iteration in
#: about a minute and under 3 GB (benchmarks/train.py measures it). A check that the loop runs, not a recipe.
CPU_SMOKE: dict[str, Any] = {
    "groups": 1, "group_size": 2, "max_new_tokens": 32, "env_kwargs": {"max_episode_steps": 4},
    "lora_rank": 8, "micro_batch_size": 1,
}


def _smoke(values: dict[str, Any]) -> bool:
    if values.get("model", "smollm2-135m") != "smollm2-135m":
        return False
    if values.get("device"):
        return str(values["device"]) == "cpu"
    try:
        import torch
    except ImportError:
        return False
    return not torch.cuda.is_available()


def cmd_train(args: argparse.Namespace) -> int:
    config = build_config(args)
    if args.plan:
        return _print_plan(config, args.gpu_memory)
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        print("agentgym train needs torch and transformers: pip install 'agentgym[train]'", file=sys.stderr)
        return 2
    from agentgym.train.distributed import launch, launched_world

    world = launched_world()
    if args.num_processes < 1:
        raise ValueError(f"--num-processes must be >= 1; got {args.num_processes}")
    if world > 1 and args.num_processes not in (1, world):
        raise ValueError(f"--num-processes {args.num_processes} under a launcher of {world} processes; leave it out")
    if args.fsdp and max(world, args.num_processes) == 1:
        raise ValueError("--fsdp shards over several ranks: add --num-processes N (N > 1) or run under torchrun")
    if world == 1 and args.num_processes > 1:
        return _launch(config, args, launch)
    if args.fsdp:  # this rank of torchrun's world: read by Ranks, as accelerate launch of an FSDP config sets it
        os.environ["ACCELERATE_USE_FSDP"] = "true"
    from tqdm.auto import tqdm

    from agentgym.train.distributed import end_world
    from agentgym.train.trainer import Trainer

    start = time.perf_counter()
    trainer = Trainer(config)
    main = trainer.ranks.is_main
    if main:
        print(f"training {config.algo} on {config.env} with {config.model} on {trainer.ranks.world} process(es): "
              f"{trainer.output_dir}/metrics.jsonl", file=sys.stderr)
    try:
        with tqdm(total=config.iterations, initial=trainer.iteration, disable=args.no_progress or not main, unit="iter",
                  desc=config.algo) as bar:
            _show_progress_inside_iterations(trainer, bar)
            history = trainer.train(progress=bar)
    finally:
        trainer.close()
    end_world()
    if not main:
        return 0
    if history:
        last = history[-1]
        print(f"iteration {last['iteration']}: success {last['success']:.3f}  return {last['return']:.3f}  "
              f"kl {last.get('kl', 0.0):.4f}  ({time.perf_counter() - start:.0f} s)")
    print(f"checkpoint: {trainer.output_dir / 'checkpoint'}")
    return 0


def _print_plan(config: TrainConfig, gpu: str | None) -> int:
    """`--plan`: the memory table; 1 (and the one-line refusal on stderr) when it does not fit."""
    from agentgym.train.plan import local_hardware, memory_plan, parse_hardware

    hardware = parse_hardware(gpu) if gpu else parse_hardware(config.hardware) if config.hardware else local_hardware()
    if hardware is None:
        raise ValueError("--plan needs a GPU size: pass --gpu-memory 80 (GiB), a name (h100, h200, a100-40) or "
                         "set the config's hardware field")
    plan = memory_plan(config, hardware)
    print(plan.table())
    if not plan.fits:
        print(f"error: {plan.refusal()}", file=sys.stderr)
        return 1
    return 0


def _show_progress_inside_iterations(trainer: Any, bar: Any) -> None:
    """Show turns and generated tokens/s while the rollout runs, and the update phase, on `bar`."""
    if bar.disable:
        return
    state = {"turns": 0, "tokens": 0, "seconds": 0.0}

    def on_generate(generations: list, seconds: float) -> None:
        state["turns"] += len(generations)
        state["tokens"] += sum(len(g.token_ids) for g in generations)
        state["seconds"] += seconds
        rate = state["tokens"] / max(state["seconds"], 1e-9)
        bar.set_postfix_str(f"rollout: {state['turns']} turns, {rate:.0f} tok/s", refresh=True)

    update = trainer.update

    def update_with_progress(turns: list) -> dict:
        bar.set_postfix_str(f"update: {len(turns)} turns, {sum(len(t.token_ids) for t in turns)} tokens", refresh=True)
        state.update(turns=0, tokens=0, seconds=0.0)
        return update(turns)

    trainer.backend.on_generate = on_generate
    trainer.update = update_with_progress


def _launch(config: TrainConfig, args: argparse.Namespace, launch: Any) -> int:
    """Start `args.num_processes` ranks on the resolved config (a file the ranks read)."""
    if config.groups < args.num_processes:
        raise ValueError(f"groups ({config.groups}) must be >= --num-processes ({args.num_processes}): "
                         "each rank takes whole groups")
    Path(config.output_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="agentgym-train-") as tmp:
        path = Path(tmp) / "config.json"
        path.write_text(json.dumps(config.to_dict(), default=str))
        argv = ["train", config.algo, "--config", str(path)] + (["--no-progress"] if args.no_progress else [])
        status = launch(argv, args.num_processes, fsdp=args.fsdp)
    if status != 0:
        print(f"agentgym train: error: a rank exited with status {status} (its error is above)", file=sys.stderr)
    return status
