"""The RL loop: rollout (agentgym.vector) -> credit (agentgym.credit) -> token-level PPO-clip update.

One iteration, top to bottom:

1. Rollout: `groups` seeds x `group_size` episodes through `GroupVectorEnv` + `collect` (MARS
   on a two-seat game: `GroupVectorAECEnv` + `collect_selfplay`, one policy in every seat), the
   `LLMAgent` sampling from the current weights and recording each turn's prompt ids, response
   ids and log-probs.
   Episodes the vector env marks failed (a worker died or hung, the env raised) are counted
   (`failed`) and left out of the update.
2. Credit: the trajectories become a `StepBatch` of rewards x `reward_scale` (or 1 on the
   winning step with `reward_source="won"`); `compute_advantages(estimator, ...)` gives one
   advantage per turn, broadcast to the turn's response tokens. The invalid-action penalty is
   the estimator's `invalid_penalty`: subtracted from the invalid row's score only, as
   verl-agent's `apply_invalid_action_penalty` (MARS, SPA and SALT, whose estimators have none:
   from that row's advantage). Malformed outputs reach the env as an invalid action.
3. Update: old log-probs (and the reference policy's) recomputed without gradients; then
   `ppo_epochs` passes over shuffled mini-batches, each accumulated over micro-batches:
   token-mean PPO-clip loss (clip 0.2, optional clip-high, dual-clip `clip_ratio_c`) +
   kl_coef x KL(policy || reference). HiPER also trains its value heads (V^L, V^H, V^T).
4. Metrics (JSONL, TensorBoard when installed), validation every `val_every` iterations on
   held-out seeds at `val_temperature` (`val_*` metrics), checkpoint every `save_every`.

Data parallel (`agentgym.train.distributed`): with N ranks each takes whole groups of the
iteration and runs its own env workers; the estimator sees the gathered global batch; the
loss is a token mean over the global mini-batch (DDP averages gradients, so each rank scales
its token sum by N / global tokens); one update on N ranks equals one update on one process
over the union batch. Rank 0 alone writes metrics and checkpoints. Under FSDP (`--fsdp`) the
policy is sharded (`Ranks.shard`) and gathered whole around transformers-backend rollouts
(`Ranks.full_params`); every rank runs as many forwards in the log-prob passes (idle ones where
it has fewer turns); the vLLM sync gathers tensor by tensor; checkpoints hold the full weights.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import logging
import math
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agentgym.train.config import TrainConfig
from agentgym.train.distributed import Ranks, merge_columns, split_range
from agentgym.train.loss import kl_penalty, ppo_clip_loss, sequence_logprobs

logger = logging.getLogger(__name__)

CHECKPOINT = "checkpoint"


@dataclass
class Turn:
    """One LLM turn to train on."""

    prompt_ids: list[int]
    token_ids: list[int]
    advantage: float
    fields: dict[str, str] = field(default_factory=dict)
    # HiPER: per-token advantages by part (switch / subgoal / action) and value targets
    token_advantages: list[float] | None = None
    value_targets: tuple[float, float, float] | None = None
    old_logprobs: torch.Tensor | None = None
    ref_logprobs: torch.Tensor | None = None


class ValueHeads(torch.nn.Module):
    """HiPER's three value heads (V^L turn, V^H segment, V^T switch) on the policy's last hidden state.

    The hidden state is detached: the critic learns from the policy's features without
    changing them (a separate critic model would double the memory).
    """

    def __init__(self, hidden_size: int):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(hidden_size, 256), torch.nn.Tanh(), torch.nn.Linear(256, 3))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.net(hidden.detach().float())


class Trainer:
    """Builds the policy, reference, agent and envs of a `TrainConfig` and runs the loop."""

    def __init__(self, config: TrainConfig, *, on_iteration: Callable[[dict], None] | None = None):
        import agentgym  # registers every id, KeyDoor-v0 included
        from agentgym.core.registration import entry

        self.config = c = config
        self.on_iteration = on_iteration
        if c.torch_threads:
            torch.set_num_threads(c.torch_threads)
        self.ranks = Ranks(c.device)
        if c.groups < self.ranks.world:
            raise ValueError(f"groups ({c.groups}) must be >= the number of processes ({self.ranks.world}): "
                             "each rank takes whole groups")
        #: the global indices of the groups this rank rolls out (all of them on one process)
        self.group_ids = list(split_range(c.groups, self.ranks.rank, self.ranks.world))
        torch.manual_seed(c.seed)  # weights of random:<arch> models, LoRA init; sampling seeds per call
        self.device = self.ranks.device or ("cuda" if torch.cuda.is_available() else "cpu")
        # Trained parameters in fp32 (AdamW master weights) with bf16 autocast on GPU, frozen ones
        # (LoRA base, reference) in bf16 on GPU; dtype="bfloat16" makes every weight bf16.
        self.dtype = torch.bfloat16 if c.dtype in ("bfloat16", "bf16") else torch.float32
        self.autocast = self.device.startswith("cuda") and c.dtype not in ("float32", "fp32")
        from agentgym.llm.models import cpu_has_native_bf16

        # On a CPU with native bf16 matmuls (AMX / AVX512-BF16) a frozen LoRA base runs bf16 too (2x faster).
        if self.device == "cpu" and c.dtype is None and c.lora_rank > 0 and cpu_has_native_bf16():
            self.autocast = True
        self.frozen_dtype = torch.bfloat16 if self.autocast else self.dtype
        self.family = entry(c.env).family
        self.format = c.output_format(self.family)
        self.output_dir = Path(c.output_dir)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.iteration = 0
        self._agentgym = agentgym
        checkpoint = self.output_dir / CHECKPOINT
        resume = c.resume and (checkpoint / "trainer_state.json").is_file()
        self._build_model(checkpoint if resume else None)
        self.train_model = self.ranks.prepare(self.model)  # DDP with several ranks; sharded in place under FSDP
        if self.ranks.fsdp:
            if self.ref_model is not None:
                self.ranks.shard(self.ref_model)
            self.optimizer = self._optimizer()  # over the sharded parameters
        self._build_rollout()
        self._val_envs: Any = None
        if resume:
            self._load_checkpoint(checkpoint)
        self._metrics_file: Any = None
        self._tensorboard = None
        if self.ranks.is_main:
            (self.output_dir / "config.json").write_text(json.dumps(c.to_dict(), indent=2, default=str))
            self._metrics_file = (self.output_dir / "metrics.jsonl").open("a")
            self._tensorboard = _tensorboard(self.output_dir)

    # ---- construction ----------------------------------------------------------------------
    def _build_model(self, checkpoint: Path | None) -> None:
        from agentgym.llm.models import load_model, load_tokenizer

        c = self.config
        if self.device.startswith("cuda"):
            self._check_memory_plan()
        if checkpoint is not None and (checkpoint / "tokenizer_config.json").is_file():
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(checkpoint)
        elif c.tokenizer == "words":
            tokenizer = self._word_tokenizer()
        else:
            tokenizer = load_tokenizer(c.model)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.tokenizer = tokenizer
        pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
        self._sampling_mask = {"vocab_limit": len(tokenizer), "forbid": (pad,) if pad != eos else ()}
        full_checkpoint = checkpoint is not None and c.lora_rank == 0
        source = str(checkpoint) if full_checkpoint else c.model
        base_dtype = self.frozen_dtype if c.lora_rank > 0 else self.dtype  # a LoRA base is frozen
        self.model, _ = load_model(source, tokenizer=tokenizer, dtype=base_dtype, device=self.device, seed=c.seed)
        # The reference: with LoRA the base model with adapters disabled (no copy); without, a frozen
        # copy in frozen_dtype (bf16 on GPU); none when kl_coef == 0.
        self.ref_model = None
        if c.kl_coef > 0 and c.lora_rank == 0:
            if full_checkpoint:  # the reference is the initial policy, not the checkpoint
                self.ref_model, _ = load_model(c.model, tokenizer=tokenizer, dtype=self.frozen_dtype, device=self.device, seed=c.seed)
            else:
                self.ref_model = copy.deepcopy(self.model).to(self.frozen_dtype)
            self.ref_model.eval().requires_grad_(False)
        if c.lora_rank > 0:
            from peft import LoraConfig, PeftModel, get_peft_model

            if checkpoint is not None:
                self.model = PeftModel.from_pretrained(self.model, checkpoint, is_trainable=True)
            else:
                lora = LoraConfig(r=c.lora_rank, lora_alpha=c.lora_alpha, target_modules=c.lora_targets, task_type="CAUSAL_LM")
                self.model = get_peft_model(self.model, lora)
        if c.gradient_checkpointing or (c.gradient_checkpointing is None and self.device.startswith("cuda")):
            self.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            if hasattr(self.model, "enable_input_require_grads"):
                self.model.enable_input_require_grads()
        self.model.train()
        self.value_heads = None
        if c.algo == "hiper":
            self.value_heads = ValueHeads(self.model.config.hidden_size).to(self.device)
        self.optimizer = self._optimizer()

    def _optimizer(self) -> torch.optim.Optimizer:
        c = self.config
        groups: list[dict[str, Any]] = [
            {"params": [p for p in self.model.parameters() if p.requires_grad], "lr": c.lr, "weight_decay": c.weight_decay}
        ]
        if self.value_heads is not None:
            groups.append({"params": list(self.value_heads.parameters()), "lr": c.value_lr, "weight_decay": 0.0})
        return torch.optim.AdamW(groups)

    def _check_memory_plan(self) -> None:
        """Refuse, in one line, a GPU run whose memory plan does not fit this machine's GPU."""
        import os

        from agentgym.train.plan import Hardware, local_hardware, memory_plan

        here = local_hardware()
        if here is None:
            return
        world = int(os.environ.get("WORLD_SIZE", "1"))
        fsdp = self.ranks.fsdp
        try:
            plan = memory_plan(self.config, Hardware(world, here.memory_gib, fsdp))
        except ValueError as error:  # a model whose shape is unknown offline: no plan, no refusal
            logger.info("no memory plan: %s", error)
            return
        if not plan.fits:
            raise ValueError(plan.refusal())
        logger.info("memory plan: peak ~%.1f GiB of %.1f GiB per GPU", plan.peak_gib, here.memory_gib)

    def _word_tokenizer(self) -> Any:
        """A word vocabulary from the prompts the agent will see on a few random episodes."""
        from agentgym.agents.prompts import PromptBuilder
        from agentgym.llm.models import word_tokenizer

        c = self.config
        prompts = PromptBuilder(self.family, self.format, c.history, c.list_actions, intro=c.intro, show_task=c.show_task)
        env = self._agentgym.make(c.env, **c.env_kwargs)
        rng = np.random.default_rng(c.seed)
        texts: list[str] = []
        for seed in range(16):
            observation, info = env.reset(seed=seed)
            task, past = str(observation), []
            for _ in range(30):
                actions = info.get("admissible_actions") or [info.get("expert_action") or ""]
                message = prompts.messages(str(observation), task=task, past=past, admissible=actions, step=len(past))
                texts.append(message[0]["content"])
                texts.extend(actions)
                action = actions[int(rng.integers(len(actions)))]
                past.append((str(observation), action))
                observation, _, terminated, truncated, info = env.step(action if rng.random() < 0.8 else "?")
                if terminated or truncated:
                    break
        env.close()
        tags = [f"<{t}>" for t in ("think", "action", "answer", "switch", "subgoal")] if self.format not in ("plain", "choice") else []
        return word_tokenizer(texts, tags)

    def _build_rollout(self) -> None:
        from agentgym.agents.llm import LLMAgent

        c = self.config
        if c.backend == "vllm":
            from agentgym.llm.vllm_backend import VLLMBackend

            self.backend = VLLMBackend(
                c.model, dtype="float32" if c.dtype in ("float32", "fp32") else "bfloat16", seed=c.seed,
                gpu_memory_utilization=c.vllm_gpu_memory_utilization, tensor_parallel_size=c.vllm_tensor_parallel_size,
                max_model_len=c.vllm_max_model_len or c.max_prompt_tokens + c.max_new_tokens,
                max_prompt_tokens=c.max_prompt_tokens, enable_sleep_mode=c.vllm_sleep,
            )
            if c.resume:  # the engine samples from the policy being resumed, not the base weights
                self._sync_weights()
        else:
            from agentgym.llm.hf import TransformersBackend

            self.backend = TransformersBackend(
                self.model, tokenizer=self.tokenizer, device=self.device, max_prompt_tokens=c.max_prompt_tokens,
                batch_size=max(1, len(self.group_ids) * c.group_size), autocast=self.autocast,
            )
            self.backend.model_name = c.model
        self.agent = LLMAgent(
            c.model, self.backend, max_new_tokens=c.max_new_tokens, temperature=c.temperature, top_p=c.top_p,
            history=c.history, format=self.format, family=self.family, list_actions=c.list_actions,
            intro=c.intro, show_task=c.show_task, seed=c.seed + 7919 * self.ranks.rank,
        )
        if self.selfplay:
            from agentgym.vector import GroupVectorAECEnv

            game = self._game_name()
            self.envs = GroupVectorAECEnv(game, len(self.group_ids), c.group_size, c.vector_backend, num_workers=c.num_workers, **c.env_kwargs)
        else:
            from agentgym.vector import GroupVectorEnv

            self.envs = GroupVectorEnv(c.env, len(self.group_ids), c.group_size, c.vector_backend, num_workers=c.num_workers, **c.env_kwargs)

    def _sync_weights(self) -> None:
        """Load the policy into the vLLM engine, one tensor at a time (wakes the engine). FSDP:
        each tensor gathered whole as it goes; a peft model's whole, for its LoRA deltas."""
        with self.ranks.full_params(self.model if hasattr(self.model, "get_base_model") else None):
            self.backend.sync_weights(self.model)

    @functools.cached_property
    def selfplay(self) -> bool:
        """MARS on a two-seat game: one policy in every seat. On a single-agent env MARS's
        arithmetic runs over the agent's turns as one seat (the credit benchmark's use)."""
        from agentgym.core.registration import entry

        e = entry(self.config.env)
        return self.config.algo == "mars" and e.family == "games" and "game" in e.kwargs

    def _game_name(self) -> str:
        from agentgym.core.registration import entry

        return str(entry(self.config.env).kwargs["game"])

    # ---- the loop ------------------------------------------------------------------------------
    def train(self, progress: Any = None) -> list[dict[str, Any]]:
        """Run the remaining iterations; returns their metrics. `progress`: a tqdm-like bar or None."""
        c = self.config
        history = []
        try:
            if c.val_before_train and self.iteration == 0:
                metrics = {"iteration": 0, **self.validate()}
                self._log(metrics)
            while self.iteration < c.iterations:
                metrics = self.step()
                history.append(metrics)
                if progress is not None:
                    progress.update(1)
                    progress.set_postfix(success=f"{metrics['success']:.2f}", ret=f"{metrics['return']:.2f}")
        except BaseException:
            if self.ranks.world == 1:  # several ranks: the others wait in a collective; the launcher stops them
                self.save()
            raise
        self.save()
        return history

    def step(self) -> dict[str, Any]:
        """One iteration: rollout, credit, update, metrics, maybe validation and a checkpoint."""
        c = self.config
        seeds = [c.seed + self.iteration * c.groups + g for g in self.group_ids]
        t0 = time.perf_counter()
        trajectories = self.rollout(seeds)
        if self.value_heads is not None:
            self.attach_values(trajectories)
        t1 = time.perf_counter()
        logger.debug("iteration %d: %d episodes rolled out in %.1f s", self.iteration + 1, len(trajectories), t1 - t0)
        turns, credit_stats = self.credit(trajectories)
        if c.backend == "vllm":
            self.backend.sleep()  # vLLM sleep mode: its GPU share is the update's while it trains
        update_stats = self.update(turns)
        t2 = time.perf_counter()
        if c.backend == "vllm":
            self._sync_weights()
        self.iteration += 1
        summaries = [s for part in self.ranks.gather([_episode_summary(t) for t in trajectories]) for s in part]
        local = [len(turns), sum(len(t.token_ids) for t in turns), sum(len(t.prompt_ids) + len(t.token_ids) for t in turns)]
        n_turns, generated, update_tokens = (int(x) for x in self.ranks.sum(local))
        rollout_s = self.ranks.max(t1 - t0)
        metrics = {
            "iteration": self.iteration,
            **episode_stats(summaries),
            **credit_stats,
            **update_stats,
            "turns": n_turns,
            "tokens_generated": generated,
            "update_tokens": update_tokens * c.ppo_epochs,
            "tokens_per_s": generated / max(rollout_s, 1e-9),
            "rollout_s": rollout_s,
            "update_s": self.ranks.max(t2 - t1),
        }
        if c.val_every and self.iteration % c.val_every == 0:
            metrics.update(self.validate())
        self._log(metrics)
        if c.save_every and self.iteration % c.save_every == 0:
            self.save()
        if self.on_iteration is not None:
            self.on_iteration(metrics)
        return metrics

    def rollout(self, seeds: list[int]) -> list[Any]:
        from agentgym.vector import collect, collect_selfplay

        with torch.no_grad(), self.ranks.full_params(self._generator()):  # FSDP: the whole policy on every rank
            if self.selfplay:
                return collect_selfplay(self.agent, self.envs, seeds)
            return collect(self.agent, self.envs, seeds)

    def _generator(self) -> Any:
        """The model that generates in this process (the policy; None with vLLM, whose engine has its own weights)."""
        return None if self.config.backend == "vllm" else self.model

    def validate(self) -> dict[str, float]:
        """`val_*` statistics of `val_episodes` held-out episodes (seeds val_seed + k, one episode
        each, env kwargs updated by `val_env_kwargs`) sampled at `val_temperature`; the ranks split them.
        verl-agent validates every `trainer.test_freq` (5) iterations at temperature 0.4."""
        from agentgym.vector import GroupVectorEnv, collect

        c = self.config
        share = split_range(c.val_episodes, self.ranks.rank, self.ranks.world)
        local: list[tuple] = []
        with torch.no_grad(), self.ranks.full_params(self._generator()):  # FSDP: every rank gathers, even one without episodes
            if len(share):
                if self._val_envs is None:
                    kwargs = {**c.env_kwargs, **c.val_env_kwargs}
                    self._val_envs = GroupVectorEnv(c.env, len(share), 1, c.vector_backend, num_workers=c.num_workers, **kwargs)
                    self._val_agent = copy.copy(self.agent)
                    self._val_agent.params = dataclasses.replace(self.agent.params, temperature=c.val_temperature)
                local = [_episode_summary(t) for t in collect(self._val_agent, self._val_envs, [c.val_seed + k for k in share])]
        stats = episode_stats([s for part in self.ranks.gather(local) for s in part])
        return {f"val_{key}": value for key, value in stats.items()}

    # ---- credit ---------------------------------------------------------------------------------
    def credit(self, trajectories: list[Any]) -> tuple[list[Turn], dict[str, Any]]:
        """Advantages per turn from the estimator over the global batch; returns this rank's
        trainable turns and the credit stats. Failed and empty episodes are left out."""
        from agentgym.credit import StepBatch, compute_advantages

        c = self.config
        done = [t for t in trajectories if t.failed is None and t.length > 0]
        world, rank = self.ranks.world, self.ranks.rank  # group ids unique over the ranks: local x world + rank
        records = [_Record(t, k, t.group * world + rank, c.reward_scale, c.reward_source, selfplay=self.selfplay)
                   for k, t in enumerate(done)]
        local = self._columns(records) if records else None
        parts = self.ranks.gather(local)
        columns = merge_columns(parts)
        if columns is None:
            return [], {}
        batch = StepBatch(**columns)
        options = c.estimator_options()
        result = compute_advantages(c.estimator, batch, **options)
        hiper = result if c.algo == "hiper" else None
        advantages = np.asarray(result.low if hiper is not None else result)
        if "invalid_penalty" not in options and c.invalid_penalty:  # MARS, SPA, SALT: on the invalid row only
            advantages = advantages - c.invalid_penalty * ~batch.valid_mask()
        start = sum(len(p["rewards"]) for p in parts[: self.ranks.rank] if p is not None)
        rows = slice(start, start + (len(local["rewards"]) if local else 0))
        turns: list[Turn] = []
        row = rows.start
        for record in records:
            # a failed game can hold a last decision without its reward: rows follow the rewards
            for info in record.agent_info[: len(record.rewards)]:
                if info.get("token_ids"):
                    turn = Turn(info["prompt_ids"], info["token_ids"], float(advantages[row]), info.get("fields") or {})
                    if hiper is not None:
                        self._hiper_turn(turn, hiper, row, info)
                    turns.append(turn)
                row += 1
        lay = batch.layout
        returns = np.bincount(lay.row_traj(len(batch)), weights=batch.rewards, minlength=lay.n_traj)
        groups = batch.group_ids[lay.first_row]
        zero_var = [np.ptp(returns[groups == g]) == 0 for g in np.unique(groups)]
        return turns, {
            "adv_mean": float(np.mean(advantages)), "adv_std": float(np.std(advantages)),
            "adv_min": float(np.min(advantages)), "adv_max": float(np.max(advantages)),
            "adv_zero_share": float(np.mean(np.abs(advantages) < 1e-8)),
            "zero_variance_groups": float(np.mean(zero_var)),
        }

    def _columns(self, records: list[_Record]) -> dict[str, Any]:
        """The `StepBatch` columns of this rank's records (what the ranks exchange)."""
        from agentgym.credit import from_trajectories
        from agentgym.credit.batch import COLUMNS

        batch = from_trajectories(records, **(self._hiper_inputs(records) if self.config.algo == "hiper" else {}))
        return {name: getattr(batch, name) for name in COLUMNS}

    def _hiper_inputs(self, records: list[Any]) -> dict[str, Any]:
        """Segment starts (turn 0 and every SWITCH; a missing switch is KEEP, as in HiPER-agent)
        and the value heads' estimates per turn."""
        from agentgym.credit.batch import switch_is_keep

        starts, low, high, term = [], [], [], []
        for record in records:
            s, vl, vh, vt = [], [], [], []
            for step, info in enumerate(record.agent_info[: len(record.rewards)]):
                s.append(step == 0 or not switch_is_keep((info.get("fields") or {}).get("switch")))
                values = info.get("values") or (0.0, 0.0, 0.0)
                vl.append(values[0])
                vh.append(values[1])
                vt.append(values[2])
            starts.append(s)
            low.append(vl)
            high.append(vh)
            term.append(vt)
        return {"segment_starts": starts, "values_low": low, "values_high": high, "values_term": term}

    def _hiper_turn(self, turn: Turn, result: Any, row: int, info: dict) -> None:
        """Per-token advantages: A^L on action tokens, A^H on subgoal tokens at boundaries, switch tokens A^T."""
        text_parts = _token_parts(self.tokenizer, turn.token_ids)
        high = float(result.high[row]) if result.boundary[row] else 0.0
        switch = float(result.switch[row]) if result.switch is not None else turn.advantage
        by_part = {"switch": switch, "subgoal": high, "action": turn.advantage}
        turn.token_advantages = [by_part.get(part, turn.advantage) for part in text_parts]
        r_switch = float(result.returns_switch[row]) if result.returns_switch is not None else 0.0
        turn.value_targets = (float(result.returns_low[row]), float(result.returns_high[row]), r_switch)

    # ---- update ---------------------------------------------------------------------------------
    def _forward(self, model: Any, turns: list[Turn], *, entropy: bool = False, hidden: bool = False) -> dict[str, torch.Tensor]:
        with torch.autocast(self.device.split(":")[0], dtype=torch.bfloat16, enabled=self.autocast):
            return sequence_logprobs(
                model, [(t.prompt_ids, t.token_ids) for t in turns], self.tokenizer.pad_token_id, self.device,
                self.config.temperature, entropy=entropy, hidden=hidden, **self._sampling_mask,
            )

    def _reference_logprobs(self, turns: list[Turn]) -> dict[str, torch.Tensor]:
        if self.ref_model is not None:
            return self._forward(self.ref_model, turns)
        with self.model.disable_adapter():  # LoRA: the base model is the reference
            return self._forward(self.model, turns)

    def update(self, turns: list[Turn]) -> dict[str, float]:
        """PPO epochs over this rank's turns. Every rank takes the same number of optimizer steps:
        ceil(global turns / mini_batch_size) per epoch, each rank's shuffled turns split evenly."""
        c = self.config
        total = int(self.ranks.sum([len(turns)])[0])
        if total == 0:
            return {}
        steps_per_epoch = math.ceil(total / c.mini_batch_size) if c.mini_batch_size else 1
        # One epoch over one mini-batch is exactly on-policy: the old log-probs are the current ones
        # (taken from the same forward pass), which saves a forward over the batch.
        self._on_policy = c.ppo_epochs == 1 and steps_per_epoch == 1
        with torch.no_grad():
            starts = range(0, len(turns), c.micro_batch_size)
            for m in range(self.ranks.micro_batches(len(starts))):  # FSDP: as many forwards on every rank
                chunk = turns[starts[m]:starts[m] + c.micro_batch_size] if m < len(starts) else self._idle()
                old = None if self._on_policy else self._forward(self.model, chunk)
                ref = self._reference_logprobs(chunk) if c.kl_coef > 0 else None
                for k, turn in enumerate(chunk):
                    n = len(turn.token_ids)
                    if old is not None:
                        turn.old_logprobs = old["logprobs"][k, -n:].detach()
                    if ref is not None:
                        turn.ref_logprobs = ref["logprobs"][k, -n:].detach()
        totals: dict[str, float] = {}
        steps = 0
        order = list(range(len(turns)))
        shuffler = random.Random(c.seed + self.iteration + 7919 * self.ranks.rank)
        for _ in range(c.ppo_epochs):
            shuffler.shuffle(order)
            for part in np.array_split(np.asarray(order, dtype=np.int64), steps_per_epoch):
                stats = self._optimizer_step([turns[i] for i in part])
                if stats is None:  # no rank had a turn in this mini-batch
                    continue
                steps += 1
                for key, value in stats.items():
                    totals[key] = totals.get(key, 0.0) + value
        return {key: value / steps for key, value in totals.items()}

    def _optimizer_step(self, batch: list[Turn]) -> dict[str, float] | None:
        """One optimizer step on a mini-batch (this rank's share of it): token-mean loss over the
        global mini-batch, gradients accumulated over micro-batches and averaged over the ranks.
        None, and no step, when the global mini-batch has no tokens."""
        c = self.config
        world = self.ranks.world
        tokens, n_turns = self.ranks.sum([sum(len(t.token_ids) for t in batch), len(batch)])
        if tokens == 0:
            return None
        names = ("pg_loss", "kl", "clipfrac", "clipfrac_c", "approx_kl", "entropy", "value_loss")
        sums = dict.fromkeys(names, 0.0)
        self.optimizer.zero_grad(set_to_none=True)
        chunks: list[list[Turn] | None] = [batch[s:s + c.micro_batch_size] for s in range(0, len(batch), c.micro_batch_size)]
        if world > 1:  # no turns here: a zero loss still joins the ranks' gradient reduction
            chunks += [None] * (self.ranks.micro_batches(max(1, len(chunks))) - len(chunks))
        for k, chunk in enumerate(chunks):
            with self.ranks.no_sync(self.train_model, last=k == len(chunks) - 1):
                if chunk is None:
                    (0.0 * self._forward(self.train_model, self._idle())["logprobs"].sum()).backward()
                    continue
                loss, stats = self._micro_loss(chunk, tokens, n_turns)
                loss.backward()
                for key, value in stats.items():
                    sums[key] += value
        if self.value_heads is not None:
            self.ranks.reduce_grads(list(self.value_heads.parameters()))
        sums = dict(zip(names, self.ranks.sum([sums[n] for n in names])))
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        grad_norm = self.ranks.clip_grad_norm(params, c.grad_clip)
        if math.isfinite(grad_norm):
            self.optimizer.step()
        else:
            logger.warning("iteration %d: non-finite gradient norm; update skipped", self.iteration)
        self.optimizer.zero_grad(set_to_none=True)
        result = {k: v / tokens for k, v in sums.items() if k != "value_loss" and (k != "clipfrac_c" or c.clip_ratio_c)}
        result["loss"] = result["pg_loss"] + c.kl_coef * result["kl"] - c.entropy_coef * result["entropy"]
        result["grad_norm"] = grad_norm
        if self.value_heads is not None:
            result["value_loss"] = sums["value_loss"] / n_turns
        return result

    def _idle(self) -> list[Turn]:
        """A one-token turn a rank without work forwards to join the others' collectives."""
        return [Turn([self.tokenizer.eos_token_id], [self.tokenizer.eos_token_id], 0.0)]

    def _micro_loss(self, chunk: list[Turn], tokens: float, n_turns: float) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss of one micro-batch, scaled for the token mean over the global mini-batch of
        `tokens` response tokens (and `n_turns` turns for the value heads), and its sums."""
        c = self.config
        scale = self.ranks.world / tokens  # DDP averages gradients over the ranks
        out = self._forward(self.train_model, chunk, entropy=c.entropy_coef > 0, hidden=self.value_heads is not None)
        mask = out["mask"]
        width = mask.shape[1]
        if self._on_policy:
            old = out["logprobs"].detach()
        else:
            old = _right_align([t.old_logprobs for t in chunk], width, self.device)
        adv = _right_align([
            torch.tensor(t.token_advantages if t.token_advantages else [t.advantage] * len(t.token_ids))
            for t in chunk], width, self.device)
        pg, pg_stats = ppo_clip_loss(out["logprobs"], old, adv, mask, c.clip_ratio, c.clip_ratio_high, c.clip_ratio_c)
        stats = {"pg_loss": float(pg.detach()), **{k: float(v) for k, v in pg_stats.items()}}
        loss = pg
        if c.kl_coef > 0:
            ref = _right_align([t.ref_logprobs for t in chunk], width, self.device)
            kl = (kl_penalty(out["logprobs"], ref, c.kl_type) * mask).sum()
            loss = loss + c.kl_coef * kl
            stats["kl"] = float(kl.detach())
        if c.entropy_coef > 0:
            ent = out["entropy"].sum()
            loss = loss - c.entropy_coef * ent
            stats["entropy"] = float(ent.detach())
        loss = loss * scale
        if self.value_heads is not None:  # the value heads sit outside DDP: their gradients are summed
            values = self.value_heads(out["last_hidden"])
            targets = torch.tensor([t.value_targets or (0.0, 0.0, 0.0) for t in chunk], device=self.device)
            value_loss = 0.5 * (values - targets).square().sum()
            loss = loss + value_loss / n_turns
            stats["value_loss"] = float(value_loss.detach())
        return loss, stats

    # ---- values for HiPER ----------------------------------------------------------------------
    def attach_values(self, trajectories: list[Any]) -> None:
        """Put the value heads' (V^L, V^H, V^T) of each turn into its agent_info (HiPER)."""
        turns = [(info, Turn(info["prompt_ids"], info["token_ids"], 0.0))
                 for t in trajectories for info in t.agent_info if info.get("token_ids")]
        size = self.config.micro_batch_size
        with torch.no_grad():
            for start in range(0, size * self.ranks.micro_batches(math.ceil(len(turns) / size)), size):
                chunk = turns[start:start + size]  # FSDP: empty on a rank with fewer turns, an idle forward
                out = self._forward(self.model, [turn for _, turn in chunk] or self._idle(), hidden=True)
                values = self.value_heads(out["last_hidden"]).tolist()
                for (info, _), v in zip(chunk, values):
                    info["values"] = tuple(v)

    # ---- logging and checkpoints ----------------------------------------------------------------
    def _log(self, metrics: dict[str, Any]) -> None:
        if not self.ranks.is_main:
            return
        self._metrics_file.write(json.dumps(metrics) + "\n")
        self._metrics_file.flush()
        if self._tensorboard is not None:
            for key, value in metrics.items():
                if isinstance(value, (int, float)):
                    self._tensorboard.add_scalar(key, value, metrics["iteration"])
        if self.iteration % max(1, self.config.log_every) == 0:
            logger.info("iter %d success %.3f return %.3f kl %.4f", self.iteration, metrics.get("success", 0.0),
                        metrics.get("return", 0.0), metrics.get("kl", 0.0))

    def save(self) -> Path:
        """Write output_dir/checkpoint (weights or LoRA adapter, tokenizer, optimizer, iteration);
        rank 0 writes, the others wait for it."""
        target = self.output_dir / CHECKPOINT
        weights = self.ranks.full_state_dict(self.model)  # FSDP: gathered to rank 0 (every rank joins)
        optimizer = self.ranks.optimizer_state(self._stateful(), self.optimizer)
        if self.ranks.is_main:
            self._write_checkpoint(target, weights, optimizer)
        self.ranks.barrier()
        return target

    def _stateful(self) -> torch.nn.Module:
        """The modules whose parameters the optimizer holds (named for FSDP's optimizer state dict)."""
        modules = torch.nn.ModuleDict({"policy": self.model})
        if self.value_heads is not None:
            modules["value_heads"] = self.value_heads
        return modules

    def _write_checkpoint(self, target: Path, weights: dict[str, Any] | None, optimizer: dict[str, Any]) -> None:
        staging = self.output_dir / f".{CHECKPOINT}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        self.model.save_pretrained(staging, safe_serialization=True, **({"state_dict": weights} if weights is not None else {}))
        self.tokenizer.save_pretrained(staging)
        state = {"optimizer": optimizer, "torch_rng": torch.get_rng_state()}
        if self.value_heads is not None:
            state["value_heads"] = self.value_heads.state_dict()
        torch.save(state, staging / "trainer.pt")
        (staging / "trainer_state.json").write_text(json.dumps({"iteration": self.iteration, "config": self.config.to_dict()}, default=str))
        old = self.output_dir / f".{CHECKPOINT}.old"
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)

    def _load_checkpoint(self, checkpoint: Path) -> None:
        state = json.loads((checkpoint / "trainer_state.json").read_text())
        self.iteration = int(state["iteration"])
        blob = torch.load(checkpoint / "trainer.pt", map_location="cpu" if self.ranks.fsdp else self.device, weights_only=False)
        self.ranks.load_optimizer_state(self._stateful(), self.optimizer, blob["optimizer"])
        torch.set_rng_state(blob["torch_rng"])
        if self.value_heads is not None and "value_heads" in blob:
            self.value_heads.load_state_dict(blob["value_heads"])
        logger.info("resumed from %s at iteration %d", checkpoint, self.iteration)

    def close(self) -> None:
        if self._metrics_file is not None:
            self._metrics_file.close()
        if self._tensorboard is not None:
            self._tensorboard.close()
        self.envs.close()
        if self._val_envs is not None:
            self._val_envs.close()


class _Record:
    """A trajectory as `from_trajectories` reads it: its global group id, the training rewards
    (the env's x `reward_scale`, or `reward_scale` on the step that wins with source "won",
    as verl-agent's ALFWorld and WebShop envs pay 10 x won), and for self-play the seat index
    and game name. The invalid-action penalty is not here: the estimator puts it on the row."""

    def __init__(self, trajectory: Any, traj_id: int, group: int, reward_scale: float = 1.0,
                 reward_source: str = "env", selfplay: bool = False):
        self._t = trajectory
        self.traj_id = traj_id
        self.group = group
        rewards = trajectory.rewards
        if reward_source == "won":
            won = [bool(info.get("won", False)) for info in trajectory.infos[: len(rewards) + 1]]
            rewards = [float(now and not before) for before, now in zip(won, won[1:])]
        self.rewards = [reward_scale * r for r in rewards]
        self.seat, self.game = 0, trajectory.env_id  # one seat unless self-play
        if selfplay:
            agent = str(trajectory.agent)
            self.seat = int(agent.rsplit("_", 1)[-1]) if agent[-1:].isdigit() else 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._t, name)


def _episode_summary(t: Any) -> tuple[bool, bool, float, int, int, int, int, int]:
    """What the statistics need of one episode (small: the ranks exchange these): failed, won,
    env return, length, invalid steps, steps, malformed outputs, decisions."""
    steps = t.infos[1:]
    return (t.failed is not None, t.success, t.total_return, t.length,
            sum(not i.get("action_valid", True) for i in steps), len(steps),
            sum(not d.get("format_valid", True) for d in t.agent_info), len(t.agent_info))


def episode_stats(summaries: list[tuple]) -> dict[str, float]:
    """success, env return, length, invalid and malformed-output shares over the episodes that
    did not fail, and the count of those that did (from `_episode_summary` tuples)."""
    done = [s for s in summaries if not s[0]]
    steps, decisions = sum(s[5] for s in done), sum(s[7] for s in done)
    return {
        "episodes": len(summaries),
        "failed": len(summaries) - len(done),
        "success": float(np.mean([s[1] for s in done])) if done else 0.0,
        "return": float(np.mean([s[2] for s in done])) if done else 0.0,
        "length": float(np.mean([s[3] for s in done])) if done else 0.0,
        "invalid_share": sum(s[4] for s in done) / steps if steps else 0.0,
        "format_error_share": sum(s[6] for s in done) / decisions if decisions else 0.0,
    }


def _token_parts(tokenizer: Any, token_ids: list[int]) -> list[str]:
    """Which tag (switch / subgoal / action / other) each generated token falls in."""
    parts, current, text = [], "other", ""
    for token in token_ids:
        text += tokenizer.decode([token])
        for tag in ("switch", "subgoal", "action"):
            if text.endswith(f"<{tag}>"):
                current = tag
            elif text.endswith(f"</{tag}>"):
                current = "other"
        parts.append(current)
    return parts


def _right_align(rows: list[torch.Tensor | None], width: int, device: Any) -> torch.Tensor:
    out = torch.zeros((len(rows), width), dtype=torch.float32, device=device)
    for i, row in enumerate(rows):
        if row is not None and len(row):
            out[i, width - len(row):] = row.to(device=device, dtype=torch.float32)
    return out


def _tensorboard(directory: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(directory / "tensorboard"))
