"""`AlfWorld-v0`: ALFWorld's household text tasks on a native engine (or on the real one)."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from agentgym.core.env import TextEnv, Transition
from agentgym.core.hashing import DIGEST_BYTES
from agentgym.envs.alfworld.engine import Engine, World
from agentgym.envs.alfworld.expert import expert_plan
from agentgym.envs.alfworld.game import TASK_TYPES, Game, GameFormatError, find_game_dirs, load_game_dir
from agentgym.envs.alfworld.generator import SPLITS, split_game, split_indices

logger = logging.getLogger(__name__)

#: The original's sub-directory of json_2.1.1 for each split.
DATA_SUBDIRS: dict[str, str] = {
    "train": "train",
    "eval_in_distribution": "valid_seen",
    "eval_out_of_distribution": "valid_unseen",
}
ENGINES: tuple[str, ...] = ("native", "textworld")
#: Kinds of actions that change the state (others only describe it).
_CHANGING = frozenset({"goto", "open", "close", "take", "move", "clean", "heat", "cool", "use", "slice"})


@functools.lru_cache(maxsize=512)
def _generated_world(split: str, index: int) -> World:
    return World(split_game(split, index))


@functools.lru_cache(maxsize=512)
def _directory_world(path: str) -> World:
    return World(load_game_dir(path))


def resolve_data_dir(data_dir: str | os.PathLike, split: str) -> list[Path]:
    """The trial directories of `split` under an ALFWorld data directory (see AlfWorldEnv)."""
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(
            f"ALFWorld data_dir {str(root)!r} does not exist; pass the directory `alfworld-download` filled "
            "(holding json_2.1.1/), set ALFWORLD_DATA, or leave data_dir unset to play generated games"
        )
    sub = DATA_SUBDIRS[split]
    for candidate in (root / "json_2.1.1" / sub, root / sub):
        if candidate.is_dir():
            found = find_game_dirs(candidate)
            if found:
                return found
    if root.name == sub or not any((root / s).is_dir() for s in DATA_SUBDIRS.values()) and not (root / "json_2.1.1").is_dir():
        found = find_game_dirs(root)
        if found:
            return found
    raise FileNotFoundError(
        f"no ALFWorld games for split {split!r} under {str(root)!r}: expected trial directories (traj_data.json + "
        f"initial_state.pddl) under json_2.1.1/{sub}/; pick the split the data holds with split=..."
    )


@dataclass
class _Episode:
    """What a snapshot holds besides the engine state."""

    history: list[str] = field(default_factory=list)
    plan: list[str] | None = None


class AlfWorldEnv(TextEnv):
    """ALFWorld household tasks as text, on a native re-implementation of its TextWorld engine.

    ## Description
    ALFWorld (Shridhar et al., 2021) puts an agent in one of ALFRED's 120 rooms with a task
    in one of 6 types: pick_and_place_simple ("put a mug in cabinet"), look_at_obj_in_light
    ("look at bowl under the desklamp"), pick_clean / pick_heat / pick_cool_then_place_in_recep
    ("put a hot plate in cabinet"), pick_two_obj_and_place ("put two book in desk"). By
    default games are generated from ALFRED's room layouts (no download); `data_dir` plays
    games in the original's format, the real ALFWorld download included.

    ## Observation
    The original's text: the intro ("-= Welcome to TextWorld, ALFRED! =-", the room, "Your
    task is to: ...") after reset, the feedback of the command after each step
    ("You arrive at cabinet 1. The cabinet 1 is closed.", "Nothing happens.").

    ## Action Space
    A command string, one of `info["admissible_actions"]` (the original's admissible
    commands, same set and order): `go to X`, `open X`, `close X`, `take O from X`,
    `move O to X`, `heat/cool/clean O with X`, `use O`, `slice O with K`, `examine X`,
    `inventory`, `look`, `help`. Matching is exact after stripping spaces, as in the original;
    anything else is a no-op answered "Nothing happens." with `action_valid` False.

    ## Rewards
    1.0 on the step that solves the task, else 0.0 (the original's score).

    ## Starting State
    `reset(seed=s)` draws a game of the split with `np_random` (or `options={"game": i}` picks
    game i of the split, in the order of `AlfWorldEnv.games`), the agent in the middle of the
    room holding nothing, every receptacle closed.

    ## Episode End
    Terminated when the task is solved (`won`); truncated at 50 steps (registration).

    ## Arguments
    - `split`: "train" (3,553 games), "eval_in_distribution" (140), "eval_out_of_distribution"
      (134; rooms never used in train). With `data_dir`: json_2.1.1/train, valid_seen, valid_unseen.
    - `task_types`: None (all) or a list of task type names (or ALFWorld's ids 1-6).
    - `data_dir`: a directory in the original's layout; default `$ALFWORLD_DATA` when it holds
      json_2.1.1/, else generated games.
    - `engine`: "native" (default) or "textworld" (the real engine, `pip install agentgym[alfworld]`;
      the native engine runs beside it as a mirror for the signals).
    - `expert`: compute `expert_action` (default True).
    - `max_receptacles`: None (every room) or play only the games whose room has at most this
      many receptacles (ALFRED's small rooms: fewer places to go, fewer admissible commands;
      e.g. 49 of train's 593 pick-and-place games have at most 6). With `data_dir` every game is
      read once to count them.

    ## Signals
    `state_hash`: digest of the game id and the true state (agent location, held object,
    every object's receptacles and locations, opened receptacles, clean/hot/cool/sliced
    objects, lamps on and toggled, objects taken from a receptacle), so different states
    with the same text hash differently. `progress`: fraction of the goal's conditions met
    (simple: 1 condition; clean/heat/cool: treated, treated-and-placed; two: one placed, two
    placed; look: holding the object, lamp on, at the lamp). `subgoals`: pick (a target
    object), open, clean, heat, cool (the target), toggle (the lamp), place (the target in a
    goal receptacle). `expert_action`: the next command of a goal-directed planner over the
    true state (`expert.py`), which solves every game of every split within 50 steps.

    ## Fidelity
    Observations, admissible commands, reward, done and won equal alfworld 0.4.2's
    TextWorld engine step for step on the same game and commands (tested on real games and
    generated games of every type and split). Generated games use ALFRED's rooms and tables
    but their own object placements, so they are not the dataset's games; pass `data_dir`
    for those. Objects per room: 1-3 instances of every type the room holds; pick_two games
    have 2-3 targets. `data_dir` plays the games ALFWorld's own loader plays: not
    movable-receptacle or sliced-object games, nor those its `game.tw-pddl` marks unsolvable.

    ## Version History
    - v0: first version.
    """

    family: ClassVar[str] = "alfworld"

    def __init__(
        self,
        split: str = "train",
        task_types: list[str | int] | tuple[str | int, ...] | None = None,
        data_dir: str | os.PathLike | None = None,
        engine: str = "native",
        expert: bool = True,
        max_receptacles: int | None = None,
        render_mode: str | None = None,
    ):
        super().__init__(render_mode=render_mode)
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; use one of {list(SPLITS)}")
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}; use 'native' or 'textworld' (the real one, needs agentgym[alfworld])")
        self.split = split
        self.engine_name = engine
        self.use_expert = bool(expert)
        self.task_types = _task_types(task_types)
        if data_dir is None:
            data_dir = _env_data_dir()
        self.data_dir = None if data_dir is None else str(data_dir)
        if self.data_dir is None:
            self.games: list[int | str] = list(split_indices(split, self.task_types))
        else:
            dirs = resolve_data_dir(self.data_dir, split)
            if self.task_types:
                dirs = [d for d in dirs if d.parent.name.split("-", 1)[0] in self.task_types]
            self.games = [str(d) for d in dirs]
        if max_receptacles is not None:
            limit = int(max_receptacles)
            if limit < 1:
                raise ValueError(f"max_receptacles must be >= 1 (or None for every room); got {max_receptacles}")
            self.games = [ref for ref in self.games if len(self.world(ref).game.receptacles) <= limit]
        if not self.games:
            rooms = "" if max_receptacles is None else f" in rooms of at most {max_receptacles} receptacles"
            raise ValueError(f"no games of task types {list(self.task_types or TASK_TYPES)}{rooms} in split {split!r}")
        if engine == "textworld":
            from agentgym.envs.alfworld.textworld_engine import _require_textworld

            _require_textworld()
        self.engine: Engine | None = None
        self.episode = _Episode()
        self._game_ref: int | str = self.games[0]
        self._tw: Any = None
        self._tw_ref: int | str | None = None
        self._tw_won = False
        self._tw_admissible: list[str] = []
        self._position = 0

    # ---- games ------------------------------------------------------------------------------
    def world(self, ref: int | str) -> World:
        if isinstance(ref, int):
            return _generated_world(self.split, ref)
        try:
            return _directory_world(ref)
        except GameFormatError:
            raise
        except (OSError, KeyError, IndexError, ValueError) as error:
            raise GameFormatError(f"{ref}: cannot be read as an ALFWorld game ({type(error).__name__}: {error})") from error

    def game(self, position: int) -> Game:
        """Game `position` of this env's game list."""
        return self.world(self.games[position]).game

    def _real_game(self, ref: int | str, world: World) -> Any:
        """The game loaded on the real engine (the last one is kept: loading takes seconds)."""
        from agentgym.envs.alfworld.textworld_engine import TextWorldGame

        if self._tw is not None and self._tw_ref == ref:
            return self._tw
        if self._tw is not None:
            self._tw.close()
            self._tw = None
        data = None
        if isinstance(ref, str) and (Path(ref) / "game.tw-pddl").exists():
            data = json.loads((Path(ref) / "game.tw-pddl").read_text())
        self._tw_ref = ref
        return TextWorldGame(world.game, data)

    # ---- the contract ---------------------------------------------------------------------------
    def _reset(self, options: dict[str, Any]) -> str:
        if "game" in options:
            position = int(options["game"])
            if not 0 <= position < len(self.games):
                raise ValueError(f"options['game'] must be in 0..{len(self.games) - 1}, got {position}")
        else:
            position = int(self.np_random.integers(len(self.games)))
        self._game_ref = self.games[position]
        self._position = position
        world = self.world(self._game_ref)
        self.engine = Engine(world)
        self.state = self.engine.state
        self.episode = _Episode()
        if self.engine_name == "textworld":
            self._tw = self._real_game(self._game_ref, world)
            observation, self._tw_admissible = self._tw.reset()
            self._tw_won = self._tw.last["won"]
            return observation
        return self.engine.intro()

    def _step(self, action: str) -> Transition:
        engine = self.engine
        assert engine is not None
        feedback, applied = engine.step(action)
        self.state = engine.state
        if applied is not None:
            self.episode.history.append(action.strip())
            plan = self.episode.plan
            if applied[0] in _CHANGING:
                self.episode.plan = plan[1:] if plan and plan[0] == action.strip() else None
        reward = 1.0 if applied is not None and engine.won() else 0.0
        terminated = reward > 0
        if self.engine_name == "textworld":
            feedback, reward, terminated, self._tw_won, self._tw_admissible = self._tw.step(action)
        return Transition(
            observation=feedback,
            reward=reward,
            terminated=terminated,
            action_valid=applied is not None,
            subgoals=engine.subgoals(applied),
        )

    def admissible_actions(self) -> list[str]:
        if self.engine_name == "textworld":
            return list(self._tw_admissible)
        assert self.engine is not None
        return self.engine.admissible()

    def progress(self) -> float:
        assert self.engine is not None
        return self.engine.progress()

    def is_won(self) -> bool:
        if self.engine_name == "textworld":
            return bool(self._tw_won)
        assert self.engine is not None
        return self.engine.won()

    def state_dict(self) -> Any:
        assert self.engine is not None
        return {"game": self.engine.world.game.name, "task": self.engine.world.game.goal_key, "state": self.engine.state.canonical()}

    def state_hash(self) -> str:
        """`stable_hash(self.state_dict())`, without its generic walk: the state is already
        canonical JSON data (sorted lists of strings), so it is encoded directly."""
        text = json.dumps(self.state_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=DIGEST_BYTES).hexdigest()

    def expert_action(self) -> str | None:
        if not self.use_expert or self.engine is None or self.engine.won():
            return None
        if self.episode.plan is None:
            self.episode.plan = expert_plan(self.engine) or []
        return self.episode.plan[0] if self.episode.plan else None

    def task_info(self) -> dict[str, Any]:
        assert self.engine is not None
        game = self.engine.world.game
        return {
            "id": f"{self.split}/{self._position}",
            "game": game.name,
            "task_type": game.task_type,
            "split": self.split,
            "index": self._position,
            "source": "generated" if isinstance(self._game_ref, int) else str(self._game_ref),
            "task": game.task_desc,
            "scene": game.scene,
            "engine": self.engine_name,
        }

    def _get_state(self) -> Any:
        assert self.engine is not None
        return {
            "ref": self._game_ref,
            "position": self._position,
            "state": self.engine.state.copy(),
            "history": list(self.episode.history),
            "plan": None if self.episode.plan is None else list(self.episode.plan),
            "tw_won": self._tw_won,
            "tw_admissible": list(getattr(self, "_tw_admissible", [])),
        }

    def _set_state(self, snapshot: Any) -> None:
        world = self.world(snapshot["ref"])
        self._game_ref, self._position = snapshot["ref"], snapshot["position"]
        self.engine = Engine(world, snapshot["state"].copy())
        self.state = self.engine.state
        self.episode = _Episode(list(snapshot["history"]), None if snapshot["plan"] is None else list(snapshot["plan"]))
        if self.engine_name == "textworld":
            self._tw = self._real_game(self._game_ref, world)
            self._tw.reset()
            for command in self.episode.history:
                self._tw.step(command)
            self._tw_won = snapshot["tw_won"]
            self._tw_admissible = list(snapshot["tw_admissible"])

    def close(self) -> None:
        if self._tw is not None:
            self._tw.close()
            self._tw = None


def _env_data_dir() -> str | None:
    """$ALFWORLD_DATA when it holds the download (json_2.1.1/); importing alfworld sets the
    variable to ~/.cache/alfworld whether or not anything was downloaded there."""
    value = os.environ.get("ALFWORLD_DATA")
    if value and (Path(value).expanduser() / "json_2.1.1").is_dir():
        logger.info("AlfWorld-v0 plays the games of ALFWORLD_DATA=%s", value)
        return value
    return None


def _task_types(task_types: Any) -> tuple[str, ...] | None:
    if task_types is None:
        return None
    if isinstance(task_types, (str, int)):
        task_types = [task_types]
    names = []
    for item in task_types:
        if isinstance(item, int) and 1 <= item <= len(TASK_TYPES):
            names.append(TASK_TYPES[item - 1])
        elif isinstance(item, str) and item in TASK_TYPES:
            names.append(item)
        else:
            raise ValueError(f"unknown task type {item!r}; use names {list(TASK_TYPES)} or ALFWorld's ids 1-6")
    return tuple(dict.fromkeys(names))
