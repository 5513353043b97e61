"""`TrainConfig`: every knob of a training run, validated with messages that name the fix.

Defaults follow verl-agent's GiGPO recipe (clip 0.2, low_var_kl 0.01, lr 1e-6, group 8,
invalid-action penalty 0.1) at a scale a CPU can run; `baselines/` holds the papers' scales.
A config file (JSON or TOML) gives any subset of the fields; the command line overrides it.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Trainers: the advantage estimator each one uses and the output format it trains.
ALGORITHMS: dict[str, dict[str, str]] = {
    "grpo": {"estimator": "grpo", "format": "auto"},
    "rloo": {"estimator": "rloo", "format": "auto"},
    "gigpo": {"estimator": "gigpo", "format": "auto"},
    "hgpo": {"estimator": "hgpo", "format": "auto"},
    "hiper": {"estimator": "hiper", "format": "hiper"},
    "mars": {"estimator": "mars", "format": "mars"},
    "spa": {"estimator": "spa", "format": "auto"},
    "salt": {"estimator": "salt", "format": "auto"},
    "mcgrpo": {"estimator": "mcgrpo", "format": "auto"},
}
KL_TYPES = ("low_var_kl", "kl", "abs", "mse")
REWARD_SOURCES = ("env", "won")


@dataclass
class TrainConfig:
    """One training run."""

    algo: str = "gigpo"
    """Trainer: grpo, rloo, gigpo, hgpo, hiper (value heads), mars (self-play on games; on a
    single-agent env, its arithmetic over the agent as one seat), spa, salt, mcgrpo."""
    env: str = "Sokoban-v0"
    """A registered env id (for mars self-play: a game, e.g. TicTacToe-v0)."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of the env."""
    model: str = "smollm2-135m"
    """The policy: smollm2-135m (embedded), random:<arch>, a local path or a hub name."""
    tokenizer: str | None = None
    """None: the model's; "words": a word-level tokenizer built from the env's texts (tiny models)."""
    backend: str = "transformers"
    """Rollout generation: transformers (the trained model itself) or vllm (GPU, weights synced)."""
    iterations: int = 10
    """Rollout + update iterations."""
    groups: int = 2
    """Seeds (groups) per iteration (verl-agent: 16)."""
    group_size: int = 4
    """Episodes per seed (verl-agent: 8)."""
    seed: int = 0
    """Seeds of iteration k are seed + k * groups + [0, groups)."""
    vector_backend: str = "sync"
    """Env workers: sync, subprocess or ray."""
    num_workers: int | None = None
    # prompts and sampling
    format: str = "auto"
    """Output format (auto: think/action, or mars for games, hiper for HiPER)."""
    history: int = 2
    list_actions: bool = True
    intro: str | None = None
    """Override the family's prompt opening ("" for none)."""
    show_task: bool = True
    """Show the first observation as the task in every prompt (False: the current observation alone)."""
    max_new_tokens: int = 128
    max_prompt_tokens: int = 2048
    temperature: float = 1.0
    top_p: float = 1.0
    # the update
    lr: float = 1e-6
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    ppo_epochs: int = 1
    mini_batch_size: int = 0
    """Turns per optimizer step: the iteration's turns (over all ranks) split into ceil(turns / this)
    equal mini-batches (0: all turns of the iteration in one step)."""
    micro_batch_size: int = 8
    """Turns per forward/backward (gradient accumulation up to a mini-batch)."""
    clip_ratio: float = 0.2
    clip_ratio_high: float | None = None
    """Upper clip (DAPO clip-higher); None: same as clip_ratio."""
    kl_coef: float = 0.01
    kl_type: str = "low_var_kl"
    entropy_coef: float = 0.0
    invalid_penalty: float = 0.1
    """lambda subtracted from the score of each invalid-action turn, that row only (malformed outputs included)."""
    advantage: dict[str, Any] = field(default_factory=dict)
    """Options of the estimator (agentgym.credit), e.g. {"mode": "mean_std_norm", "gamma": 0.95}."""
    value_lr: float = 1e-4
    """HiPER: learning rate of the value heads."""
    lora_rank: int = 0
    """0: full fine-tuning; > 0: LoRA (peft) of this rank."""
    lora_alpha: int = 32
    lora_targets: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    # machine
    device: str | None = None
    """cuda or cpu (default: cuda when available)."""
    torch_threads: int | None = 1
    """CPU threads for torch (1 leaves a core to the envs; None: torch's default)."""
    # memory and the rollout engine (agentgym/train/plan.py: `agentgym train --plan`)
    dtype: str | None = None
    """None: on GPU the frozen weights (LoRA base, reference, vLLM) are bf16 and trained weights fp32
    masters under bf16 autocast; on CPU fp32. "bfloat16": every weight bf16 (updates smaller than
    bf16's spacing, 2^-8 relative, are lost: lr 1e-6 full fine-tuning does not move); "float32": no bf16."""
    gradient_checkpointing: bool | None = None
    """Recompute each decoder layer in backward (None: on with CUDA, off on CPU)."""
    hardware: str | None = None
    """What the run is sized for, e.g. "1x H100 80GB" or "4x H100 80GB (FSDP)" (the plan's default GPU)."""
    vllm_gpu_memory_utilization: float = 0.4
    """Share of each GPU's memory the vLLM engine takes (weights + KV cache); the trainer has the rest."""
    vllm_tensor_parallel_size: int = 1
    vllm_max_model_len: int | None = None
    """vLLM's context length (None: max_prompt_tokens + max_new_tokens)."""
    vllm_sleep: bool = True
    """vLLM sleep mode: the engine frees its GPU memory (level 1) during each update, wakes for rollout."""
    # output
    output_dir: str = "runs/run"
    save_every: int = 10
    """Save a checkpoint every N iterations (and at the end); 0: only at the end."""
    resume: bool = False
    """Continue from output_dir/checkpoint if it exists."""
    log_every: int = 1
    # ---- rewards, dual-clip, validation (issue 13; one block) ----
    reward_scale: float = 1.0
    """Multiplies every training reward (verl-agent's ALFWorld and WebShop: 10 for a win)."""
    reward_source: str = "env"
    """env: the env's rewards; won: 1 on the step that wins, else 0 (verl-agent's WebShop pays
    only a full-score purchase)."""
    clip_ratio_c: float | None = 3.0
    """Dual-clip PPO: the loss of a negative-advantage token is at most -A x clip_ratio_c
    (verl's default 3.0; Ye et al. 2020); None: off."""
    val_every: int = 0
    """Validate every N iterations on held-out episodes (verl-agent: 5); 0: never."""
    val_episodes: int = 16
    """Held-out episodes per validation (one per seed; verl-agent: 128)."""
    val_temperature: float = 0.4
    """Sampling temperature of validation (verl-agent: 0.4)."""
    val_env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Env kwargs that replace the training ones for validation, e.g. {"split": "eval_in_distribution"}."""
    val_seed: int = 1_000_000_000
    """Validation seeds are val_seed + [0, val_episodes), apart from the training seeds."""
    val_before_train: bool = False
    """Also validate before the first update (logged as iteration 0)."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise ValueError(message)

        _check_types(self)
        need(self.algo in ALGORITHMS, f"algo {self.algo!r} is unknown; choose one of {sorted(ALGORITHMS)}")
        need(self.group_size >= 2 or self.algo == "mars",
             f"group_size must be >= 2 for {self.algo} (advantages compare episodes of one seed); got {self.group_size}")
        need(self.groups >= 1, f"groups must be >= 1 (seeds per iteration); got {self.groups}")
        need(self.iterations >= 1, f"iterations must be >= 1; got {self.iterations}")
        need(self.backend in ("transformers", "vllm"),
             f"backend {self.backend!r} cannot train; use transformers or vllm (openai is for evaluation only)")
        need(not (self.backend == "vllm" and self.model.startswith("random:")),
             "backend vllm loads weights from a path or hub name; random:<arch> models need backend transformers")
        need(self.lr > 0, f"lr must be > 0; got {self.lr}")
        need(0 < self.clip_ratio < 1, f"clip_ratio must be in (0, 1) (verl-agent: 0.2); got {self.clip_ratio}")
        need(self.clip_ratio_high is None or 0 < self.clip_ratio_high < 1,
             f"clip_ratio_high must be in (0, 1) or None (DAPO: 0.28); got {self.clip_ratio_high}")
        need(self.kl_coef >= 0, f"kl_coef must be >= 0 (0 disables the reference model); got {self.kl_coef}")
        need(self.kl_type in KL_TYPES, f"kl_type {self.kl_type!r} is unknown; choose one of {KL_TYPES}")
        need(self.ppo_epochs >= 1, f"ppo_epochs must be >= 1; got {self.ppo_epochs}")
        need(self.micro_batch_size >= 1, f"micro_batch_size must be >= 1; got {self.micro_batch_size}")
        need(self.mini_batch_size >= 0, f"mini_batch_size must be >= 0 (0 = one step per iteration); got {self.mini_batch_size}")
        need(self.max_new_tokens >= 1, f"max_new_tokens must be >= 1; got {self.max_new_tokens}")
        need(self.temperature > 0, f"temperature must be > 0 to train (sampling); got {self.temperature}")
        need(self.lora_rank >= 0, f"lora_rank must be >= 0 (0 = full fine-tuning); got {self.lora_rank}")
        need(self.invalid_penalty >= 0, f"invalid_penalty must be >= 0; got {self.invalid_penalty}")
        need(self.tokenizer in (None, "words"), f"tokenizer must be None or 'words'; got {self.tokenizer!r}")
        need(self.dtype in (None, "float32", "fp32", "bfloat16", "bf16"),
             f"dtype must be float32 or bfloat16 (or unset for the device default); got {self.dtype!r}")
        need(self.save_every >= 0, f"save_every must be >= 0; got {self.save_every}")
        need(self.reward_scale > 0, f"reward_scale must be > 0 (verl-agent: 10); got {self.reward_scale}")
        need(self.reward_source in REWARD_SOURCES, f"reward_source must be one of {REWARD_SOURCES}; got {self.reward_source!r}")
        need(self.clip_ratio_c is None or self.clip_ratio_c > 1,
             f"clip_ratio_c must be > 1 (verl: 3.0) or None to turn dual-clip off; got {self.clip_ratio_c}")
        need(self.val_every >= 0, f"val_every must be >= 0 (0 = no validation); got {self.val_every}")
        need(self.val_episodes >= 1, f"val_episodes must be >= 1; got {self.val_episodes}")
        need(self.val_temperature > 0, f"val_temperature must be > 0 (verl-agent samples at 0.4); got {self.val_temperature}")
        need(not (self.algo == "mars" and (self.val_every or self.val_before_train)),
             "mars has no held-out validation here; evaluate against the bots with agentgym eval")
        need(isinstance(self.advantage, dict), "advantage must be a mapping of estimator options, e.g. {\"gamma\": 0.95}")
        need(0 < self.vllm_gpu_memory_utilization < 1,
             f"vllm_gpu_memory_utilization must be in (0, 1) (verl-agent: 0.6); got {self.vllm_gpu_memory_utilization}")
        need(self.vllm_tensor_parallel_size >= 1, f"vllm_tensor_parallel_size must be >= 1; got {self.vllm_tensor_parallel_size}")
        need(self.vllm_max_model_len is None or self.vllm_max_model_len >= self.max_prompt_tokens + 1,
             f"vllm_max_model_len must exceed max_prompt_tokens ({self.max_prompt_tokens}); got {self.vllm_max_model_len}")
        from agentgym.credit import make_config

        try:
            make_config(self.estimator, **self.advantage)
        except (TypeError, ValueError) as error:
            raise ValueError(f"advantage options: {error}") from None

    @property
    def estimator(self) -> str:
        return ALGORITHMS[self.algo]["estimator"]

    def estimator_options(self) -> dict[str, Any]:
        """Options for `compute_advantages`: `advantage`, with `invalid_penalty` as the estimator's
        (subtracted from the invalid row's score only, as verl-agent's `apply_invalid_action_penalty`)
        unless `advantage` sets it. MARS, SPA and SALT have none: the trainer takes it off the row's advantage."""
        options = dict(self.advantage)
        if "invalid_penalty" in _fields_of(self.estimator):
            options.setdefault("invalid_penalty", self.invalid_penalty)
        return options

    def output_format(self, family: str) -> str:
        if self.format != "auto":
            return self.format
        forced = ALGORITHMS[self.algo]["format"]
        if forced != "auto":
            return forced
        from agentgym.agents.prompts import default_format

        return default_format(family)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            import difflib

            hints = [f"{u} (did you mean {m[0]}?)" if (m := difflib.get_close_matches(u, names, n=1)) else u for u in unknown]
            raise ValueError(f"unknown config field(s): {', '.join(hints)}; valid fields: {', '.join(sorted(names))}")
        return cls(**data)

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> TrainConfig:
        """Load a JSON or TOML file (a flat table of fields); `overrides` win."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file {path} not found; pass --config with a .json or .toml file")
        text = path.read_text()
        try:
            if path.suffix == ".toml":
                try:
                    import tomllib
                except ImportError:  # Python 3.10
                    raise ValueError("TOML configs need Python >= 3.11; use a .json config") from None
                data = tomllib.loads(text)
            else:
                data = json.loads(text)
        except (json.JSONDecodeError, ValueError) as error:
            raise ValueError(f"config file {path} is malformed: {error}") from None
        if not isinstance(data, dict):
            raise ValueError(f"config file {path} must hold a table of fields, not {type(data).__name__}")
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(data)


_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "dict": (dict,), "list": (list,),
}
_KINDS = {"int": "an integer", "float": "a finite number", "str": "a string", "bool": "true or false",
          "dict": "a mapping", "list": "a list of strings"}


def _check_types(config: TrainConfig) -> None:
    """Each field has its annotated type (ints are not floats, bools are not ints, floats are
    finite), so a value like `--set lr=nan` or `groups=abc` is a one-line error, not a traceback."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        kinds = [k.strip().split("[")[0] for k in str(f.type).split("|")]
        if value is None and "None" in kinds:
            continue
        kinds = [k for k in kinds if k in _TYPES]
        if not kinds:  # an annotation this check does not know
            continue
        ok = any(isinstance(value, _TYPES[k]) and (k == "bool" or not isinstance(value, bool)) for k in kinds)
        if ok and isinstance(value, float):
            ok = math.isfinite(value)
        if ok and isinstance(value, list):
            ok = all(isinstance(v, str) for v in value)
        if not ok:
            wanted = " or ".join(_KINDS[k] for k in kinds) + (" or None" if "None" in str(f.type) else "")
            raise ValueError(f"{f.name} must be {wanted}; got {value!r}")


def _fields_of(estimator: str) -> set[str]:
    from agentgym.credit import ESTIMATORS

    return {f.name for f in dataclasses.fields(ESTIMATORS[estimator][1])}
