"""Sokoban-v0: gym-sokoban's generated levels as a text grid (RAGEN's symbols)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agentgym.core.env import TextEnv, Transition
from agentgym.envs.sokoban.generator import FLOOR, TARGET, WALL, Level, generate_level
from agentgym.envs.sokoban.solver import OneBoxTable, PlanCache

#: Canonical action names, in the fixed order of `admissible_actions`.
ACTIONS: tuple[str, ...] = ("up", "down", "left", "right")
#: Every accepted spelling (after strip + lower) -> action index. The digits are RAGEN's and
#: verl-agent's action ids (1 up, 2 down, 3 left, 4 right; their 0 "still" is not a move here).
ACTION_ALIASES: dict[str, int] = {
    **{name: i for i, name in enumerate(ACTIONS)},
    **{str(i + 1): i for i in range(4)},
}
LEGEND = "Legend: # wall, _ floor, O target, X box, √ box on target, P player, S player on target."
BOX, BOX_ON_TARGET, PLAYER, PLAYER_ON_TARGET = "X", "√", "P", "S"

STEP_PENALTY = -0.1
INVALID_PENALTY = -0.1
BOX_ON_TARGET_REWARD = 1.0
BOX_OFF_TARGET_PENALTY = -1.0
SOLVED_REWARD = 10.0

MAX_GENERATION_ATTEMPTS = 10_000


@dataclass
class SokobanState:
    """The whole episode state: the level, where the player and the (sorted) boxes are."""

    level: Level
    player: int
    boxes: tuple[int, ...]
    task: dict[str, Any] = field(default_factory=dict)


def level_from_rows(rows: list[str] | str) -> Level:
    """Parse a grid in RAGEN's symbols (`#_OX√PS`, also `*` box on target, `+`/`@`) into a Level."""
    if isinstance(rows, str):
        rows = [r for r in rows.strip().splitlines() if r.strip() and not r.startswith("Legend")]
    rows = [r.strip() for r in rows]
    if not rows or len({len(r) for r in rows}) != 1:
        raise ValueError(f"a Sokoban grid needs equal-length, non-empty rows; got lengths {[len(r) for r in rows]}")
    height, width = len(rows), len(rows[0])
    fixed, boxes, players = [], [], []
    for i, ch in enumerate("".join(rows)):
        if ch not in "#_OX√*PS@+":
            raise ValueError(f"unknown Sokoban symbol {ch!r} at cell {divmod(i, width)}; use # _ O X √ P S")
        on_target = ch in "O√*S+"
        fixed.append(WALL if ch == "#" else TARGET if on_target else FLOOR)
        if ch in "X√*":
            boxes.append(i)
        if ch in "PS@+":
            players.append(i)
    border = [i for i in range(height * width)
              if (i < width or i >= (height - 1) * width or i % width in (0, width - 1)) and fixed[i] != WALL]
    if len(players) != 1:
        raise ValueError(f"a Sokoban grid needs exactly one player (P or S); found {len(players)}")
    if not boxes or len(boxes) != fixed.count(TARGET):
        raise ValueError(f"a Sokoban grid needs as many boxes as targets (>= 1); found {len(boxes)} boxes, "
                         f"{fixed.count(TARGET)} targets")
    if border:
        raise ValueError(f"the grid's border must be wall (#); cells {[divmod(i, width) for i in border]} are not")
    return Level(height, width, "".join(fixed), players[0], tuple(sorted(boxes)))


class SokobanEnv(TextEnv):
    """Push every box onto a target in a generated Sokoban room, played through a text grid.

    ## Description
    gym-sokoban's procedurally generated Sokoban (the version with `search_depth` used by RAGEN
    and verl-agent): a random-walk room, boxes placed on their targets, then pulled away by
    reverse play, so every level is solvable. Observations are RAGEN's text grid.

    ## Observation
    The grid, one row per line, then a legend line::

        ######
        #_O__#
        #_X__#
        #_P__#
        #____#
        ######
        Legend: # wall, _ floor, O target, X box, √ box on target, P player, S player on target.

    After an unparseable action a line saying so comes first.

    ## Action Space
    `up`, `down`, `left`, `right` (case-insensitive, surrounding whitespace ignored), or the
    digits RAGEN and verl-agent use: `1` up, `2` down, `3` left, `4` right. Moving into a box
    pushes it if the cell beyond is free. Anything else (their `0`/"still" included) is invalid.

    ## Rewards
    gym-sokoban's: -0.1 every step, +1 when a box is pushed onto a target, -1 when one is
    pushed off, +10 when the last box is placed. An invalid action costs -0.1 (the step penalty,
    as gym-sokoban's "no operation" action and verl-agent's invalid-action penalty).

    ## Starting State
    A new level from `reset(seed=...)`: a `level_seed` is drawn from `np_random` and the level
    is generated from it (`reset(options={"level_seed": k})` rebuilds that level;
    `options={"rows": [...]}` plays a given grid). No box starts on a target and the player
    does not stand on one (unless `player_walk` moved it there).

    ## Episode End
    Terminated when every box is on a target. Truncated by the registered limit (15 steps).

    ## Arguments
    - `dim_room` (6, 6): room height and width, border walls included.
    - `num_boxes` (1): boxes (and targets).
    - `search_depth` (30): reverse-play depth (verl-agent 30, RAGEN 100).
    - `max_solution_steps` ("auto"): regenerate levels whose shortest solution is longer;
      "auto" is the registered `max_episode_steps` (none when the env was not made by
      `gym.make`), None turns the filter off.
    - `num_gen_steps` (None): random-walk length, default `int(1.7 * (H + W))`.
    - `player_walk` (False): RAGEN/verl-agent's extra 1-3 random player steps after generation.
    - `legend` (True): end each observation with the legend line; False gives the bare grid
      (a third of the tokens: the credit benchmark's tiny policies read it).
    - `render_mode` (None): "ansi" or "human".

    ## Signals
    - `state_hash`: BLAKE2b-128 over the level layout (walls, targets, size) and the player and
      box cells; different levels never collide, the step count is not in it.
    - `progress`: boxes on targets / boxes. `subgoals`: `box_on_target` when a push puts a box
      on a target. `expert_action`: the first action of a shortest solution (exact: a backward
      BFS table for one box, A* with plan caching for several, where ties between equally short
      plans may depend on the states solved before); None once solved or dead.
    - `admissible_actions`: always the four moves; a move into a wall is valid and changes
      nothing, as in gym-sokoban. Extra key `action_effective`: the player moved.

    ## Fidelity
    Step dynamics and rewards equal gym-sokoban 0.0.6's `SokobanEnv` (tested against it when
    installed). The generator follows gym-sokoban's `room_utils` in RAGEN's `search_depth`
    variant, including its DFS order and state bookkeeping; the random numbers differ (one
    NumPy generator instead of `random` + `np.random`), so seeds do not give their levels.
    RAGEN/verl-agent's extra random walk of the player after generation is off by default
    (`player_walk=True`). With the filter, levels whose shortest solution exceeds the step
    limit are redrawn.

    ## Version History
    - v0: first version.
    """

    family = "sokoban"
    max_text_length = 100_000

    def __init__(
        self,
        dim_room: tuple[int, int] | list[int] = (6, 6),
        num_boxes: int = 1,
        search_depth: int = 30,
        max_solution_steps: int | str | None = "auto",
        num_gen_steps: int | None = None,
        player_walk: bool = False,
        legend: bool = True,
        render_mode: str | None = None,
    ):
        super().__init__(render_mode=render_mode)
        try:
            height, width = (int(x) for x in dim_room)
        except (TypeError, ValueError):
            raise ValueError(f"dim_room must be two ints (height, width), e.g. (6, 6); got {dim_room!r}") from None
        if height < 4 or width < 4:
            raise ValueError(f"dim_room must be at least (4, 4) (the border is wall); got {dim_room!r}")
        if int(num_boxes) < 1 or int(num_boxes) > (height - 2) * (width - 2) - 2:
            raise ValueError(f"num_boxes must be between 1 and {(height - 2) * (width - 2) - 2} for a "
                             f"{height}x{width} room; got {num_boxes!r}")
        if int(search_depth) < 2:
            raise ValueError(f"search_depth must be >= 2 (reverse-play depth); got {search_depth!r}")
        if not (max_solution_steps is None or max_solution_steps == "auto"
                or (isinstance(max_solution_steps, int) and max_solution_steps >= 1)):
            raise ValueError(f"max_solution_steps must be a positive int, 'auto' or None; got {max_solution_steps!r}")
        self.dim_room = (height, width)
        self.num_boxes = int(num_boxes)
        self.search_depth = int(search_depth)
        self.max_solution_steps = max_solution_steps
        self.num_gen_steps = num_gen_steps
        self.player_walk = bool(player_walk)
        self.legend = bool(legend)
        self._seed: int | None = None
        self._level: Level | None = None

    # ---- episode ----------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict]:
        self._seed = seed
        return super().reset(seed=seed, options=options)

    def _reset(self, options: dict[str, Any]) -> str:
        unknown = set(options) - {"level_seed", "rows"}
        if unknown:
            raise ValueError(f"unknown reset options {sorted(unknown)}; Sokoban takes 'level_seed' or 'rows'")
        if "rows" in options:
            level = level_from_rows(options["rows"])
            self._prepare(level)
            start_rows = self._render_grid(level.player, level.boxes, legend=False).splitlines()
            task = {"seed": self._seed, "level_seed": None, "dim_room": [level.height, level.width],
                    "num_boxes": len(level.boxes), "search_depth": self.search_depth,
                    "player_walk": False, "rows": start_rows}
        else:
            level_seed = options.get("level_seed")
            if level_seed is None:
                level_seed = int(self.np_random.integers(0, 2**63 - 1))
            elif not isinstance(level_seed, (int, np.integer)) or isinstance(level_seed, bool) or level_seed < 0:
                raise ValueError(f"options['level_seed'] must be a non-negative int (from info['task']); "
                                 f"got {level_seed!r}")
            level = self._generate(int(level_seed))
            task = {"seed": self._seed, "level_seed": int(level_seed), "dim_room": list(self.dim_room),
                    "num_boxes": self.num_boxes, "search_depth": self.search_depth,
                    "player_walk": self.player_walk}
        self.state = SokobanState(level, level.player, level.boxes, task)
        self._on_target = self._count_on_target(level.boxes)
        return self._render_grid(level.player, level.boxes)

    def _solution_limit(self) -> int | None:
        if self.max_solution_steps == "auto":
            spec = self.spec
            return spec.max_episode_steps if spec is not None else None
        return self.max_solution_steps  # type: ignore[return-value]

    def _generate(self, level_seed: int) -> Level:
        rng = np.random.default_rng(level_seed)
        limit = self._solution_limit()
        for _ in range(MAX_GENERATION_ATTEMPTS):
            level = generate_level(rng, self.dim_room, self.num_boxes, self.search_depth, self.num_gen_steps,
                                   player_walk=self.player_walk)
            if level is None:
                continue
            self._prepare(level)
            if limit is not None and self.solution_length() > limit:
                continue
            return level
        raise RuntimeError(
            f"no Sokoban level after {MAX_GENERATION_ATTEMPTS} attempts for dim_room={self.dim_room}, "
            f"num_boxes={self.num_boxes}, search_depth={self.search_depth}, max_solution_steps={limit}; "
            "use a larger room, fewer boxes or a larger max_solution_steps"
        )

    def _prepare(self, level: Level) -> None:
        """Per-level tables: walls, targets, the render template, the hash prefix, the expert."""
        self._level = level
        w = level.width
        self._width = w
        self._deltas = (-w, w, -1, 1)
        self._wall = [c == WALL for c in level.fixed]
        self._is_target = [c == TARGET for c in level.fixed]
        # Render template with a newline after each row: cell i sits at i + i // w.
        template: list[str] = []
        for r in range(level.height):
            template.extend(level.fixed[r * w : (r + 1) * w])
            template.append("\n")
        self._template = template
        self._slot = [i + i // w for i in range(len(level.fixed))]
        self._hasher = hashlib.blake2b(
            f"sokoban|{level.height}x{w}|{level.fixed}|".encode(), digest_size=16
        )
        self._hash_memo: dict[tuple[int, tuple[int, ...]], str] = {}
        targets = level.targets
        if len(level.boxes) == 1:
            self._table: OneBoxTable | None = OneBoxTable(w, self._wall, targets)
            self._plans: PlanCache | None = None
        else:
            self._table = None
            self._plans = PlanCache(w, self._wall, targets)

    def _count_on_target(self, boxes: tuple[int, ...]) -> int:
        is_target = self._is_target
        return sum(1 for b in boxes if is_target[b])

    def _render_grid(self, player: int, boxes: tuple[int, ...], legend: bool | None = None) -> str:
        cells = self._template.copy()
        slot, is_target = self._slot, self._is_target
        for b in boxes:
            cells[slot[b]] = BOX_ON_TARGET if is_target[b] else BOX
        cells[slot[player]] = PLAYER_ON_TARGET if is_target[player] else PLAYER
        text = "".join(cells)
        return text + LEGEND if (self.legend if legend is None else legend) else text.rstrip("\n")

    def canonical_action(self, action: str) -> str:
        a = ACTION_ALIASES.get(action.strip().lower()) if len(action) < 64 else None
        return ACTIONS[a] if a is not None else super().canonical_action(action)

    def _step(self, action: str) -> Transition:
        state = self.state
        a = ACTION_ALIASES.get(action.strip().lower()) if len(action) < 64 else None
        if a is None:
            shown = action if len(action) <= 40 else action[:40] + "..."
            return Transition(
                f"Invalid action {shown!r}: answer with one of up, down, left, right (or 1, 2, 3, 4).\n"
                + self._render_grid(state.player, state.boxes),
                reward=INVALID_PENALTY, action_valid=False, extra={"action_effective": False},
            )
        delta = self._deltas[a]
        player, boxes = state.player, state.boxes
        target = player + delta
        reward = STEP_PENALTY
        subgoals: list[str] = []
        moved = False
        if not self._wall[target]:
            if target in boxes:
                beyond = target + delta
                if not self._wall[beyond] and beyond not in boxes:
                    boxes = tuple(sorted(beyond if b == target else b for b in boxes)) if len(boxes) > 1 else (beyond,)
                    moved = True
            else:
                moved = True
        if moved:
            player = target
            state.player, state.boxes = player, boxes
            on_target = self._count_on_target(boxes)
            if on_target > self._on_target:
                reward += BOX_ON_TARGET_REWARD
                subgoals.append("box_on_target")
            elif on_target < self._on_target:
                reward += BOX_OFF_TARGET_PENALTY
            self._on_target = on_target
        solved = self._on_target == len(boxes)
        if solved:
            reward += SOLVED_REWARD
        return Transition(
            self._render_grid(player, boxes), reward=reward, terminated=solved,
            subgoals=subgoals, extra={"action_effective": moved},
        )

    # ---- signals ----------------------------------------------------------------------------
    def admissible_actions(self) -> list[str]:
        return list(ACTIONS)

    def progress(self) -> float:
        return self._on_target / len(self.state.boxes)

    def is_won(self) -> bool:
        return self._on_target == len(self.state.boxes)

    def state_dict(self) -> dict[str, Any]:
        state = self.state
        w = state.level.width
        return {
            "rows": self._fixed_rows(state.level),
            "player": list(divmod(state.player, w)),
            "boxes": [list(divmod(b, w)) for b in state.boxes],
        }

    def state_hash(self) -> str:
        state = self.state
        key = (state.player, state.boxes)
        digest = self._hash_memo.get(key)
        if digest is None:
            h = self._hasher.copy()
            h.update(f"{state.player}|{','.join(map(str, state.boxes))}".encode())
            digest = self._hash_memo[key] = h.hexdigest()
        return digest

    def task_info(self) -> dict[str, Any]:
        return dict(self.state.task)

    def expert_action(self) -> str | None:
        state = self.state
        if self._on_target == len(state.boxes):
            return None
        if self._table is not None:
            a = self._table.action(state.player, state.boxes[0])
        else:
            a = self._plans.action(state.player, state.boxes)  # type: ignore[union-attr]
        return None if a is None else ACTIONS[a]

    def solution_length(self) -> int:
        """Moves of a shortest solution from the current position (-1: none)."""
        state = self.state if self.state is not None and self.state.level is self._level else None
        level = self._level
        assert level is not None
        player, boxes = (state.player, state.boxes) if state else (level.player, level.boxes)
        if self._table is not None:
            return self._table.distance(player, boxes[0])
        return self._plans.length(player, boxes)  # type: ignore[union-attr]

    # ---- snapshots ----------------------------------------------------------------------------
    def _set_state(self, state: Any) -> None:
        super()._set_state(state)
        if self._level != self.state.level:
            self._prepare(self.state.level)
        self.state.level = self._level  # share the prepared level object
        self._on_target = self._count_on_target(self.state.boxes)

    @staticmethod
    def _fixed_rows(level: Level) -> list[str]:
        return level.rows()
