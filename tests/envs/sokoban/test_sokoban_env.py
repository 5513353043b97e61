"""Sokoban-v0: contract, grammar, rewards, signals, expert, arguments."""

from __future__ import annotations

import gymnasium as gym
import pytest

import agentgym
from agentgym.envs.sokoban.env import LEGEND, SokobanEnv, level_from_rows
from agentgym.envs.sokoban.solver import OneBoxTable, astar

# Two boxes, two targets: a box right of the player with both targets beyond it, one box below.
CORRIDOR = [
    "#######",
    "#PX_OO#",
    "#__X__#",
    "#######",
]


@pytest.fixture
def env():
    e = gym.make("Sokoban-v0")
    yield e
    e.close()


def _grid(obs: str) -> list[str]:
    return [r for r in obs.splitlines() if r and not r.startswith(("Legend", "Invalid"))]


@pytest.mark.parametrize("kwargs", [{}, {"num_boxes": 2, "dim_room": (7, 7)}])
def test_check_env(kwargs):
    agentgym.check_env(gym.make("Sokoban-v0", **kwargs), seed=3)


def test_observation_is_grid_with_legend(env):
    obs, info = env.reset(seed=0)
    rows = _grid(obs)
    assert len(rows) == 6 and all(len(r) == 6 for r in rows)
    assert obs.endswith(LEGEND)
    assert "".join(rows).count("P") + "".join(rows).count("S") == 1
    assert info["admissible_actions"] == ["up", "down", "left", "right"]
    assert info["task"] == {"seed": 0, "level_seed": info["task"]["level_seed"], "dim_room": [6, 6],
                            "num_boxes": 1, "search_depth": 30, "player_walk": False}
    assert info["progress"] == 0.0 and not info["won"]


def test_legend_false_gives_the_bare_grid_of_the_same_game():
    with_legend, bare = gym.make("Sokoban-v0"), gym.make("Sokoban-v0", legend=False)
    for action in (None, "up", "left", "garbage"):
        if action is None:
            (a, info_a), (b, info_b) = with_legend.reset(seed=4), bare.reset(seed=4)
        else:
            a, *_, info_a = with_legend.step(action)
            b, *_, info_b = bare.step(action)
        assert a == b + "\n" + LEGEND and "Legend" not in b
        assert info_a["state_hash"] == info_b["state_hash"] and info_a["task"] == info_b["task"]
    agentgym.check_env(gym.make("Sokoban-v0", legend=False), seed=1)


@pytest.mark.parametrize("spelling,canonical", [
    ("right", "right"), ("RIGHT", "right"), ("  Right\n", "right"), ("4", "right"),
    ("1", "up"), ("2", "down"), ("3", "left"), ("Left", "left"),
])
def test_action_spellings(spelling, canonical):
    a, b = SokobanEnv(), SokobanEnv()
    a.reset(options={"rows": CORRIDOR})
    b.reset(options={"rows": CORRIDOR})
    assert a.step(spelling)[:4] == b.step(canonical)[:4]
    assert a.state_hash() == b.state_hash()


@pytest.mark.parametrize("garbage", ["", "0", "still", "up down", "<action>up</action>", "north", "5", "x" * 5000])
def test_invalid_actions_are_noops(garbage):
    e = SokobanEnv()
    _, info = e.reset(options={"rows": CORRIDOR})
    obs, reward, terminated, truncated, step_info = e.step(garbage)
    assert not step_info["action_valid"] and not terminated and not truncated
    assert reward == pytest.approx(-0.1)
    assert step_info["state_hash"] == info["state_hash"]
    assert obs.startswith("Invalid action") and _grid(obs) == CORRIDOR


def test_wall_bump_is_valid_and_changes_nothing():
    e = SokobanEnv()
    _, info = e.reset(options={"rows": CORRIDOR})
    obs, reward, _, _, step_info = e.step("up")
    assert step_info["action_valid"] and not step_info["action_effective"]
    assert reward == pytest.approx(-0.1) and step_info["state_hash"] == info["state_hash"]
    assert _grid(obs) == CORRIDOR


def test_rewards_subgoals_and_progress_along_a_solution():
    e = SokobanEnv()
    e.reset(options={"rows": CORRIDOR})
    # right: push X to col 3; right: X onto O (col 4) +1; right: X off O onto O (col 5): on->on, 0
    _, r1, *_ = e.step("right")
    _, r2, _, _, info2 = e.step("right")
    assert r1 == pytest.approx(-0.1) and r2 == pytest.approx(0.9)
    assert info2["subgoals"] == ["box_on_target"] and info2["progress"] == 0.5
    obs, r3, term, _, info3 = e.step("right")
    assert _grid(obs)[1] == "#___S√#" and r3 == pytest.approx(-0.1) and info3["subgoals"] == []
    e2 = SokobanEnv()  # down, then right pushes the only box onto the only target
    e2.reset(options={"rows": ["######", "#P___#", "#_XO_#", "#____#", "######"]})
    _, r, term, _, info = e2.step("down")
    _, r, term, _, info = e2.step("right")
    assert r == pytest.approx(-0.1 + 1 + 10) and term and info["won"] and info["progress"] == 1.0
    assert info["expert_action"] is None


def test_box_off_target_costs_one():
    e = SokobanEnv()
    e.reset(options={"rows": ["#######", "#P√_O_#", "#X____#", "#######"]})
    _, reward, terminated, _, info = e.step("right")
    assert reward == pytest.approx(-1.1) and not terminated and info["progress"] == 0.0


def test_state_hash_separates_levels_and_ignores_steps():
    a, b = SokobanEnv(), SokobanEnv()
    a.reset(options={"rows": ["######", "#P_X_#", "#__O_#", "######"]})
    b.reset(options={"rows": ["######", "#P_X_#", "#_O__#", "######"]})
    assert a.state_hash() != b.state_hash()
    h0 = a.state_hash()
    a.step("right")
    a.step("left")
    assert a.state_hash() == h0
    assert a.state_dict() == {"rows": ["######", "#____#", "#__O_#", "######"], "player": [1, 1], "boxes": [[1, 3]]}


def test_level_seed_rebuilds_the_level(env):
    obs, info = env.reset(seed=42)
    again, info2 = env.reset(options={"level_seed": info["task"]["level_seed"]})
    assert again == obs and info2["state_hash"] == info["state_hash"]
    other, _ = env.reset(seed=43)
    assert other != obs


def test_snapshot_restores_across_levels(env):
    env.reset(seed=1)
    blob = env.unwrapped.snapshot()
    first = env.step("down")
    env.reset(seed=2)
    env.step("up")
    env.unwrapped.restore(blob)
    assert env.step("down") == first


def test_expert_solves_every_default_level_within_the_limit(env):
    for seed in range(1000):
        _, info = env.reset(seed=seed)
        for _ in range(15):
            _, _, terminated, truncated, info = env.step(info["expert_action"])
            if terminated or truncated:
                break
        assert info["won"], f"seed {seed}"


@pytest.mark.parametrize("kwargs", [{"dim_room": (7, 7), "num_boxes": 2}, {"dim_room": (8, 8), "num_boxes": 3}])
def test_expert_is_optimal_and_follows_plan_for_several_boxes(kwargs):
    e = gym.make("Sokoban-v0", max_episode_steps=100, **kwargs)
    for seed in range(8):
        _, info = e.reset(seed=seed)
        length = e.unwrapped.solution_length()
        steps = 0
        while not info["won"]:
            _, _, _, _, info = e.step(info["expert_action"])
            steps += 1
        assert steps == length


def test_one_box_table_agrees_with_astar():
    e = SokobanEnv(dim_room=(8, 8), max_solution_steps=None)
    for seed in range(30):
        e.reset(seed=seed)
        level = e.state.level
        wall = [c == "#" for c in level.fixed]
        table = OneBoxTable(level.width, wall, level.targets)
        plan = astar(level.width, wall, level.targets, level.player, level.boxes)
        assert plan is not None and len(plan) == table.distance(level.player, level.boxes[0])


def _bfs_length(level) -> int:
    """Shortest solution by plain breadth-first search over (player, boxes): the reference."""
    from collections import deque

    w, wall, goal = level.width, [c == "#" for c in level.fixed], tuple(sorted(level.targets))
    start = (level.player, level.boxes)
    seen, queue = {start: 0}, deque([start])
    while queue:
        p, bs = state = queue.popleft()
        if bs == goal:
            return seen[state]
        for delta in (-w, w, -1, 1):
            q = p + delta
            if wall[q]:
                continue
            nbs = bs
            if q in bs:
                if wall[q + delta] or q + delta in bs:
                    continue
                nbs = tuple(sorted(q + delta if b == q else b for b in bs))
            if (q, nbs) not in seen:
                seen[(q, nbs)] = seen[state] + 1
                queue.append((q, nbs))
    return -1


@pytest.mark.parametrize("dim_room,num_boxes", [((7, 7), 2), ((7, 7), 3)])
def test_astar_is_exact_against_plain_bfs(dim_room, num_boxes):
    e = SokobanEnv(dim_room=dim_room, num_boxes=num_boxes, search_depth=16, max_solution_steps=None)
    for seed in range(10):
        e.reset(seed=seed)
        assert e.solution_length() == _bfs_length(e.state.level), seed


@pytest.mark.parametrize("rows", [
    ["######", "#__O_#", "#_P__#", "#X___#", "######"],  # one box in a corner
    ["######", "#_OO_#", "#_PX_#", "#X___#", "######"],  # two boxes, one in a corner
])
def test_dead_state_has_no_expert(rows):
    e = SokobanEnv()
    _, info = e.reset(options={"rows": rows})
    assert info["expert_action"] is None and e.solution_length() == -1


def test_player_walk_moves_the_player_only():
    plain, walked = SokobanEnv(player_walk=False), SokobanEnv(player_walk=True)
    moved = 0
    for seed in range(60):
        plain.reset(options={"level_seed": seed})
        walked.reset(options={"level_seed": seed})
        a, b = plain.state, walked.state
        if a.level.fixed != b.level.fixed:
            continue  # the walk draws from the same generator: later attempts may differ
        assert a.boxes == b.boxes
        if a.player != b.player:
            moved += 1
            assert b.level.fixed[b.player] != "#" and b.player not in b.boxes
            assert walked.solution_length() >= 1
    assert moved >= 10


def test_max_solution_steps_filters_levels():
    e = SokobanEnv(dim_room=(8, 8), max_solution_steps=3)
    for seed in range(20):
        e.reset(seed=seed)
        assert 1 <= e.solution_length() <= 3


@pytest.mark.parametrize("kwargs,needle", [
    ({"dim_room": (3, 6)}, "dim_room"), ({"dim_room": "big"}, "dim_room"), ({"num_boxes": 0}, "num_boxes"),
    ({"search_depth": 1}, "search_depth"), ({"max_solution_steps": 0}, "max_solution_steps"),
])
def test_bad_arguments_name_the_problem(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        SokobanEnv(**kwargs)


@pytest.mark.parametrize("rows,needle", [
    (["####", "#P_#", "####"], "as many boxes as targets"),
    (["#####", "#PXO#", "#X#"], "equal-length"),
    (["#####", "#PXOQ", "#####"], "unknown Sokoban symbol"),
    (["#####", "#_XO_", "#####"], "exactly one player"),
    (["#####", "#PXO_", "#####"], "border"),
])
def test_bad_grids_name_the_problem(rows, needle):
    with pytest.raises(ValueError, match=needle):
        level_from_rows(rows)


@pytest.mark.parametrize("options", [{"difficulty": 3}, {"level_seed": "7"}, {"level_seed": -1}])
def test_bad_reset_options_name_the_problem(options):
    with pytest.raises(ValueError, match="level_seed"):
        SokobanEnv().reset(options=options)


def test_rows_task_rebuilds_the_grid():
    e = SokobanEnv()
    obs, info = e.reset(options={"rows": CORRIDOR})
    assert info["task"]["rows"] == CORRIDOR and info["task"]["level_seed"] is None
    e.step("right")
    again, _ = SokobanEnv().reset(options={"rows": info["task"]["rows"]})
    assert again == obs
