"""AlfWorld-v0 through gym.make: contract, kwargs, real data, signals, snapshots."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import pytest
from alfworld_fixtures import FIXTURE_GAMES, require_fixtures

import agentgym  # noqa: F401 - registers the ids
from agentgym.core.check import check_env
from agentgym.core.env import INFO_KEYS
from agentgym.core.hashing import stable_hash
from agentgym.envs.alfworld.env import AlfWorldEnv


def test_check_env_passes_with_default_kwargs():
    env = gym.make("AlfWorld-v0")
    check_env(env, fresh_process=True)
    env.close()


@pytest.mark.parametrize("split", ["train", "eval_in_distribution", "eval_out_of_distribution"])
def test_expert_wins_through_the_env_with_reward_one(split):
    env = gym.make("AlfWorld-v0", split=split)
    obs, info = env.reset(seed=11)
    assert set(INFO_KEYS) <= set(info) and info["task"]["split"] == split
    progress, subgoals, total = [info["progress"]], set(), 0.0
    for _ in range(50):
        obs, reward, terminated, truncated, info = env.step(info["expert_action"])
        assert info["action_valid"]
        progress.append(info["progress"])
        subgoals.update(info["subgoals"])
        total += reward
        if terminated or truncated:
            break
    assert terminated and info["won"] and total == 1.0 and progress[-1] == 1.0
    assert progress == sorted(progress)
    assert {"pick"} <= subgoals and (subgoals & {"place", "toggle"})
    assert info["expert_action"] is None


def test_fast_state_hash_equals_the_core_stable_hash():
    env = gym.make("AlfWorld-v0").unwrapped
    _, info = env.reset(seed=4)
    for _ in range(4):
        assert info["state_hash"] == stable_hash(env.state_dict())
        _, _, _, _, info = env.step(info["expert_action"])


def test_task_types_kwarg_restricts_the_games():
    env = gym.make("AlfWorld-v0", split="eval_in_distribution", task_types=["pick_cool_then_place_in_recep", 4])
    seen = {env.reset(seed=s)[1]["task"]["task_type"] for s in range(12)}
    assert seen == {"pick_cool_then_place_in_recep", "pick_heat_then_place_in_recep"}


def test_max_receptacles_keeps_only_the_small_rooms():
    every = AlfWorldEnv(split="eval_in_distribution", task_types=["pick_and_place_simple"])
    small = AlfWorldEnv(split="eval_in_distribution", task_types=["pick_and_place_simple"], max_receptacles=8)
    sizes = {ref: len(every.world(ref).game.receptacles) for ref in every.games}
    assert small.games == [ref for ref, n in sizes.items() if n <= 8]
    assert 0 < len(small.games) < len(every.games)
    for seed in range(5):
        observation, info = small.reset(seed=seed)
        assert len(small.game(small._position).receptacles) <= 8
        assert sum(a.startswith("go to ") for a in info["admissible_actions"]) <= 8


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"split": "valid_seen"}, "unknown split"),
        ({"engine": "pddl"}, "unknown engine"),
        ({"task_types": ["juggle"]}, "unknown task type"),
        ({"data_dir": "/nonexistent/alfworld"}, "does not exist"),
        ({"max_receptacles": 0}, "max_receptacles must be >= 1"),
        ({"max_receptacles": 2}, "at most 2 receptacles"),
    ],
)
def test_bad_kwargs_name_the_problem(kwargs, message):
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        AlfWorldEnv(**kwargs)


def test_reset_options_pick_a_game_and_seeds_reproduce():
    env = gym.make("AlfWorld-v0", split="eval_out_of_distribution")
    _, info = env.reset(options={"game": 5})
    assert info["task"]["index"] == 5
    assert env.reset(seed=3)[1]["state_hash"] == env.reset(seed=3)[1]["state_hash"]
    with pytest.raises(ValueError, match="options"):
        env.reset(options={"game": 134})


def test_snapshot_restore_continues_identically():
    env = gym.make("AlfWorld-v0").unwrapped
    _, info = env.reset(seed=2)
    for _ in range(3):
        _, _, _, _, info = env.step(info["expert_action"])
    blob = env.snapshot()
    first = [env.step(a)[0] for a in ("look", "inventory", info["admissible_actions"][0])]
    env.restore(blob)
    assert [env.step(a)[0] for a in ("look", "inventory", info["admissible_actions"][0])] == first


def test_data_dir_plays_the_real_games(monkeypatch):
    root = require_fixtures()
    env = gym.make("AlfWorld-v0", data_dir=str(root), split="eval_in_distribution")
    assert len(env.unwrapped.games) == len(FIXTURE_GAMES)
    obs, info = env.reset(options={"game": 0})
    assert obs.startswith("-= Welcome to TextWorld, ALFRED! =-") and info["task"]["source"].endswith(info["task"]["game"])
    monkeypatch.setenv("ALFWORLD_DATA", str(root))
    env = gym.make("AlfWorld-v0", split="eval_in_distribution", task_types=["pick_two_obj_and_place"])
    assert len(env.unwrapped.games) == 2
    with pytest.raises(FileNotFoundError, match="valid_unseen"):
        AlfWorldEnv(data_dir=str(root), split="eval_out_of_distribution")


def test_data_dir_plays_exactly_the_games_alfworlds_loader_plays(tmp_path):
    """Issue 15: trials marked `"solvable": false` (or without the key, or without game.tw-pddl)
    were played; ALFWorld's `collect_game_files` skips them."""
    import json
    import shutil

    root = require_fixtures()
    data = tmp_path / "json_2.1.1"
    shutil.copytree(root / "json_2.1.1", data)
    trials = sorted(p.parent for p in data.rglob("traj_data.json"))
    unsolvable, no_key, no_file = trials[0], trials[3], trials[5]
    for trial, change in ((unsolvable, {"solvable": False}), (no_key, None)):
        tw_file = trial / "game.tw-pddl"
        game = json.loads(tw_file.read_text())
        game.pop("solvable")
        if change:
            game.update(change)
        tw_file.write_text(json.dumps(game))
    (no_file / "game.tw-pddl").unlink()
    env = AlfWorldEnv(data_dir=str(tmp_path), split="eval_in_distribution")
    played = {Path(g) for g in env.games}
    assert played == set(trials) - {unsolvable, no_key, no_file}
    try:
        from alfworld.agents.environment.alfred_tw_env import TASK_TYPES, AlfredTWEnv
    except ImportError:
        return
    loader = AlfredTWEnv.__new__(AlfredTWEnv)  # only its game collection, without TextWorld's setup
    loader.train_eval = "eval_in_distribution"
    loader.config = {"dataset": {"eval_id_data_path": str(data / "valid_seen"), "num_eval_games": -1},
                     "env": {"task_types": list(TASK_TYPES)}}
    loader.collect_game_files()
    assert {Path(f).parent for f in loader.game_files} == played


def test_an_export_without_game_files_is_played_whole(tmp_path):
    import shutil

    root = require_fixtures()
    shutil.copytree(root / "json_2.1.1", tmp_path / "json_2.1.1")
    for tw_file in tmp_path.rglob("game.tw-pddl"):
        tw_file.unlink()
    env = AlfWorldEnv(data_dir=str(tmp_path), split="eval_in_distribution")
    assert len(env.games) == len(FIXTURE_GAMES)
