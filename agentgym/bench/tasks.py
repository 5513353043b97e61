"""Tasks of the credit-assignment benchmark and the anchor-group statistics of their rollouts.

Every task is a registered env with keyword arguments (no new env code): KeyDoor-v0 corridors
whose length, key and step limit set the difficulty, Sokoban-v0 6x6 with one box, and ALFWorld's
pick-and-place in its small rooms (answered by the number of an admissible action). They all have sparse final
rewards (1 on success, 0 otherwise; Sokoban adds its step shaping) and states that recur within
an episode (walking back and forth) and across the episodes of a group (same seed, same start),
the condition under which GiGPO's and HGPO's step groups form. `anchor_stats` measures how often
they do in real rollouts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class BenchTask:
    """One benchmark task: an env id, its keyword arguments and the success threshold."""

    name: str
    env: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    threshold: float = 0.5
    """Success rate (mean of the last 3 iterations' sampled episodes) that counts as learned."""
    summary: str = ""
    train: dict[str, Any] = field(default_factory=dict)
    """`TrainConfig` fields this task needs beside the benchmark's policy (e.g. a prompt format)."""


TASKS: dict[str, BenchTask] = {
    t.name: t
    for t in (
        BenchTask("keydoor5", "KeyDoor-v0", {"rooms": 5, "key": False}, 0.5,
                  "5 rooms, no key, 10 steps: walk to the door and open it (the trainer's learning test)"),
        BenchTask("keydoor9-h20", "KeyDoor-v0", {"rooms": 9, "key": False, "max_episode_steps": 20}, 0.8,
                  "9 rooms, no key, 20 steps: longer walks, more recurring states"),
        BenchTask("keydoor4-key-h20", "KeyDoor-v0", {"rooms": 4, "key": True, "max_episode_steps": 20}, 0.3,
                  "4 rooms, take the key then open the door, 20 steps: two subgoals, one sparse reward"),
        BenchTask("sokoban6", "Sokoban-v0", {"dim_room": [6, 6], "num_boxes": 1, "max_episode_steps": 20, "legend": False},
                  0.5, "Sokoban 6x6, one box, 20 steps (the bare grid: no legend line)"),
        BenchTask("alfworld-pick-small", "AlfWorld-v0",
                  {"task_types": ["pick_and_place_simple"], "max_receptacles": 6, "max_episode_steps": 10}, 0.3,
                  "ALFWorld pick-and-place in rooms of at most 6 receptacles (49 train games; the expert needs 4-5 "
                  "steps), 10 steps: the task, the observation and the numbered admissible actions in the prompt, "
                  "the answer a number",
                  {"format": "choice", "list_actions": True, "show_task": True}),
    )
}


def get_task(name: str) -> BenchTask:
    if name not in TASKS:
        raise ValueError(f"unknown benchmark task {name!r}; choose from {', '.join(TASKS)}")
    return TASKS[name]


def anchor_survey(task: BenchTask, groups: int = 4, group_size: int = 4, iterations: int = 2,
                  seed: int = 0) -> dict[str, Any]:
    """Anchor-group statistics of a uniform random policy over the admissible actions (no model):
    `iterations` batches of `groups` seeds x `group_size` episodes, as one training iteration
    would roll out. Returns the mean of `anchor_stats` over the batches, the random policy's
    success rate and the mean episode length."""
    import agentgym.train  # noqa: F401  (registers KeyDoor-v0)
    from agentgym.agents.baselines import RandomAgent
    from agentgym.vector import GroupVectorEnv, collect

    envs = GroupVectorEnv(task.env, groups, group_size, "sync", **task.env_kwargs)
    batches, done = [], []
    try:
        for k in range(iterations):
            trajectories = collect(RandomAgent(seed + k), envs, [seed + k * groups + g for g in range(groups)])
            batches.append(anchor_stats(trajectories))
            done += [t for t in trajectories if t.failed is None]
    finally:
        envs.close()
    survey: dict[str, Any] = {key: sum(b[key] for b in batches) / len(batches) for key in batches[0]}
    survey["random_success"] = sum(bool(t.success) for t in done) / max(len(done), 1)
    survey["episode_length"] = sum(t.length for t in done) / max(len(done), 1)
    return survey


def anchor_stats(trajectories: list[Any]) -> dict[str, float]:
    """How GiGPO step groups form in one iteration's rollouts.

    A step group is the set of steps of one seed group (the `group` of the rollout records)
    that start from the same true state (`infos[t]["state_hash"]`), as GiGPO's `anchor_codes`
    keys them. Returns the number of steps and step groups, the share of steps in a step group
    of size > 1 (these get a non-zero step advantage), the share in a step group that spans
    more than one episode, and the mean step-group size.
    """
    sizes: Counter = Counter()
    episodes: dict[tuple, set] = {}
    for k, t in enumerate(trajectories):
        if t.failed is not None:
            continue
        for info in t.infos[: len(t.rewards)]:
            key = (t.group, info.get("state_hash"))
            sizes[key] += 1
            episodes.setdefault(key, set()).add(k)
    steps = sum(sizes.values())
    if steps == 0:
        return {"steps": 0, "step_groups": 0, "anchored_share": 0.0, "cross_episode_share": 0.0, "mean_group_size": 0.0}
    return {
        "steps": steps,
        "step_groups": len(sizes),
        "anchored_share": sum(n for n in sizes.values() if n > 1) / steps,
        "cross_episode_share": sum(n for key, n in sizes.items() if len(episodes[key]) > 1) / steps,
        "mean_group_size": steps / len(sizes),
    }
