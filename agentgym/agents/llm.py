"""`LLMAgent`: prompt an `agentgym.llm` backend, parse its output format, act for a batch of envs."""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

from agentgym.agents.base import Agent, Decision
from agentgym.agents.prompts import (
    FORMATS,
    INVALID_ACTION,
    PROMPT_VERSION,
    PromptBuilder,
    chosen_action,
    default_format,
    parse_output,
)
from agentgym.llm import Backend, SamplingParams, make_backend

logger = logging.getLogger(__name__)


class LLMAgent(Agent):
    """An agent that asks a language model for each action.

    Each turn the prompt holds the task (first observation), the last `history` steps, the
    current observation and the admissible actions; the completion must follow `format`
    (see `agentgym.agents.prompts`). A malformed completion becomes `INVALID_ACTION`, which the
    env answers with `action_valid=False`: never a crash. Each `Decision.info` carries the
    raw text, `format_valid`, the parsed fields and, on trainable backends, `prompt_ids`,
    `token_ids` and `logprobs` for the trainer.

    Arguments:
        model: a model name for the backend (default the embedded SmolLM2-135M-Instruct), or the
            base URL of an OpenAI-compatible server (`http://HOST:PORT/v1`: vLLM, llama.cpp
            server, ...), which selects the "openai" backend and asks the server's `/models` for
            the model id unless `served_model` names it.
        backend: "transformers", "vllm", "openai", or a built `Backend` object.
        batch: how many episodes an evaluation plays at once, so that one generation call
            serves all of them (`eval_batch_size`; `agentgym eval` reads it).
        max_new_tokens, temperature, top_p, seed: sampling (temperature 0 = greedy).
        history: how many past steps the prompt shows.
        format: an output format name, or "auto" (MARS format for games, think/action otherwise).
        env: an env id, to pick the family prompt; or `family` directly.
        list_actions: show `info["admissible_actions"]` in the prompt.
        show_task: show the first observation as the task (False: the current observation alone).
        backend_kwargs: passed to the backend (device, dtype, base_url, ...).
    """

    name = "llm"

    def __init__(
        self,
        model: str = "smollm2-135m",
        backend: str | Backend = "transformers",
        *,
        max_new_tokens: int = 256,
        temperature: float = 0.7,
        top_p: float = 1.0,
        history: int = 2,
        format: str = "auto",
        env: str | None = None,
        family: str | None = None,
        list_actions: bool = True,
        intro: str | None = None,
        show_task: bool = True,
        seed: int | None = 0,
        batch: int = 8,
        served_model: str | None = None,
        **backend_kwargs: Any,
    ):
        if batch < 1:
            raise ValueError(f"batch must be >= 1 (episodes played at once); got {batch}")
        self.eval_batch_size = int(batch)
        if isinstance(model, str) and model.startswith(("http://", "https://")) and isinstance(backend, str):
            backend_kwargs["base_url"] = model.rstrip("/")
            backend, model = "openai", served_model or served_model_id(model)
        if family is None and env is not None:
            from agentgym.core.registration import entry

            family = entry(env).family
        self.family = family or ""
        # Without env/family, "auto" is settled at the first act: game infos carry "player".
        self._settle_family = family is None and format == "auto"
        self._auto_format = format == "auto"
        fmt = default_format(self.family) if format == "auto" else format
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {format!r}; choose 'auto' or one of {sorted(FORMATS)}")
        self.prompts = PromptBuilder(self.family, fmt, history, list_actions, intro=intro, show_task=show_task)
        self.params = SamplingParams(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed)
        self.model_name = model
        self.backend = backend if isinstance(backend, Backend) else make_backend(backend, model=model, **backend_kwargs)
        self._calls = 0
        self._memory: dict[int, dict[str, Any]] = {}

    def for_env(self, env_id: str) -> LLMAgent:
        """This agent (same backend, sampling and history) with `env_id`'s family prompt and,
        unless a format was chosen, the family's output format: one model serves many boards."""
        from agentgym.core.registration import entry

        family = entry(env_id).family
        clone = copy.copy(self)
        fmt = default_format(family) if self._auto_format else self.prompts.fmt
        clone.family, clone._settle_family, clone._memory = family, False, {}
        clone.prompts = dataclasses.replace(self.prompts, family=family, fmt=fmt)
        return clone

    @property
    def format(self) -> str:
        return self.prompts.fmt

    def start(self, num_envs: int) -> None:
        self._memory = {}

    def conversation(self, observation: str, info: dict, index: int) -> list[dict[str, str]]:
        """The chat messages for env `index` now (its memory must have been started)."""
        memory = self._memory.setdefault(index, {"task": str(observation), "past": []})
        extra = f"You play as {info['player']}." if "player" in info else ""
        return self.prompts.messages(
            str(observation), task=memory["task"], past=memory["past"],
            admissible=info.get("admissible_actions") or (), step=len(memory["past"]), extra=extra,
        )

    def act(self, observations: Sequence[str], infos: Sequence[dict], env_indices: Sequence[int]) -> list[Decision]:
        if self._settle_family and infos:
            self._settle_family = False
            if "player" in infos[0]:
                self.family = "games"
                self.prompts = dataclasses.replace(self.prompts, family="games", fmt=default_format("games"))
        conversations = [self.conversation(o, i, k) for o, i, k in zip(observations, infos, env_indices)]
        params = self.params
        if params.seed is not None:  # a fresh, reproducible draw each call
            params = SamplingParams(params.max_new_tokens, params.temperature, params.top_p, params.seed + self._calls)
        self._calls += 1
        generations = self.backend.generate(conversations, params)
        decisions = []
        for observation, env_info, index, generation in zip(observations, infos, env_indices, generations):
            parsed = parse_output(generation.text, self.prompts.fmt)
            if parsed.valid and self.prompts.fmt == "choice":
                parsed.action = chosen_action(parsed.action, env_info.get("admissible_actions") or ())
                if parsed.action is None:
                    parsed.valid, parsed.error = False, "not the number of a listed action"
            action = parsed.action if parsed.valid else INVALID_ACTION
            self._memory[index]["past"].append((str(observation), parsed.action or generation.text.strip()[:200]))
            info: dict[str, Any] = {
                "raw": generation.text,
                "format_valid": parsed.valid,
                "fields": parsed.fields,
                "finish_reason": generation.finish_reason,
            }
            if parsed.error:
                info["format_error"] = parsed.error
            if generation.token_ids:
                info.update(prompt_ids=generation.prompt_ids, token_ids=generation.token_ids, logprobs=generation.logprobs)
            decisions.append(Decision(action, info))
        return decisions

    def metadata(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.model_name,
            **self.backend.describe(),
            "format": self.prompts.fmt,
            "prompt_version": PROMPT_VERSION,
            "family": self.family,
            "history": self.prompts.history,
            "list_actions": self.prompts.list_actions,
            **({} if self.prompts.show_task else {"show_task": False}),
            "max_new_tokens": self.params.max_new_tokens,
            "temperature": self.params.temperature,
            "top_p": self.params.top_p,
            "seed": self.params.seed,
        }


def served_model_id(base_url: str, timeout: float = 10.0) -> str:
    """The first model id an OpenAI-compatible server lists at `{base_url}/models`."""
    import json
    import urllib.error
    import urllib.request

    url = base_url.rstrip("/") + "/models"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data = json.loads(response.read())
        return str(data["data"][0]["id"])
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise ConnectionError(f"cannot reach {url} ({error}); is the server running? "
                              "(or name the model with served_model=...)") from None
    except (ValueError, KeyError, IndexError, TypeError):
        raise ValueError(f"{url} did not list a model (expected {{\"data\": [{{\"id\": ...}}]}}); "
                         "name it with served_model=...") from None
