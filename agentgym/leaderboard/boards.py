"""Board definitions: which episodes of which env id and split a leaderboard ranks, and by what.

A board is a JSON file `<EnvId>/<split>.json` under the boards directory (the package's
`agentgym/leaderboard/definitions/` unless `--boards` or `$AGENTGYM_BOARDS` says otherwise):

    {"format": "agentgym-board", "env_id": "KuhnPoker-v0", "split": "cfr",
     "env_kwargs": {"opponent": "cfr", "seat": "both"}, "first_seed": 0, "episodes": 200,
     "metric": "mean_return", "paired": true, "columns": ["score", "episodes"],
     "reference": "CFR+ equilibrium (sampled)", "description": "..."}

Its episodes are the seeds `first_seed .. first_seed + episodes - 1`, made with exactly
`env_kwargs`. Optional: `paired` (seeds 2k and 2k+1 play one deal from both seats: the score's
interval is taken over deals), `columns` (what the tables show, from `COLUMNS`), `reference`
(what the `expert` agent plays on this board, its display name). Verified results files live
beside it in `<EnvId>/<split>/<agent>.json`; `<agent>@N.json` is an entry of the smoke board
`<EnvId>/<split>@N` (the first N seeds), for runs too slow for the whole board. `forfeit`: the
score of a truncated episode (an agent that never finishes the game is scored a loss, as MARS
scores a wrong-format answer, rather than the 0 of an unfinished hand). `suite_episodes`: the
smoke board `agentgym suite` plays by default (not part of what the board ranks).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agentgym.core.hashing import canonical, stable_hash
from agentgym.leaderboard.results import ResultsError, RunResults, split_kwargs

BOARD_FORMAT = "agentgym-board"
METRICS: dict[str, str] = {
    "success_rate": "fraction of episodes won (info['won'] at the end); ties broken by mean return",
    "mean_return": "mean undiscounted episode return; ties broken by success rate",
}
BOARDS_ENV_VAR = "AGENTGYM_BOARDS"
#: Columns a board may show (besides rank, agent, configuration, date and verified).
COLUMNS: dict[str, str] = {
    "score": "mean return with its 95% interval (over deals on a paired board)",
    "success": "success rate with its 95% Wilson interval",
    "episodes": "episodes played",
    "steps": "mean episode length",
}
DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "success_rate": ("success", "score", "episodes"),
    "mean_return": ("score", "success", "episodes"),
}


class BoardMismatchError(ValueError):
    """A results file that does not cover exactly the board's episodes, split or kwargs."""


@dataclass(frozen=True)
class Board:
    """One leaderboard: an env id, a split, its seeds and its ranking metric."""

    env_id: str
    split: str
    episodes: int
    first_seed: int = 0
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    metric: str = "success_rate"
    description: str = ""
    path: Path | None = None
    #: Set on a board cut to its first N episodes (`agentgym suite --episodes N`).
    limited: bool = False
    #: Seeds 2k and 2k+1 are one deal played from both seats (duplicate poker).
    paired: bool = False
    columns: tuple[str, ...] = ()
    #: What the `expert` agent plays here (its display name), e.g. "minimax (exact solver)".
    reference: str = ""
    #: The score of a truncated episode (the game unfinished at the step limit: the agent kept
    #: answering with illegal moves) instead of its return; MARS scores that a loss (-1).
    forfeit: float | None = None
    #: What `agentgym suite` plays of this board unless `--full`: its smoke board of the first
    #: N seeds, for boards whose opponent thinks too long for a default run (MARS's mcts-1000).
    suite_episodes: int | None = None

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"board {self.env_id}/{self.split}: metric {self.metric!r} is not one of {sorted(METRICS)}")
        if self.episodes < 1:
            raise ValueError(f"board {self.env_id}/{self.split}: episodes must be >= 1, got {self.episodes}")
        if self.suite_episodes is not None and self.suite_episodes < 1:
            raise ValueError(f"board {self.env_id}/{self.split}: suite_episodes must be >= 1, got {self.suite_episodes}")
        unknown = [c for c in self.columns if c not in COLUMNS]
        if unknown:
            raise ValueError(f"board {self.env_id}/{self.split}: columns {unknown} are not among {sorted(COLUMNS)}")
        if not self.columns:
            object.__setattr__(self, "columns", DEFAULT_COLUMNS[self.metric])

    @property
    def id(self) -> str:
        base = f"{self.env_id}/{self.split}"
        return f"{base}@{self.episodes}" if self.limited else base

    @property
    def definition_hash(self) -> str:
        """Digest of what the board ranks; entries stored under an older definition are not shown."""
        what = {"env_id": self.env_id, "split": self.split, "env_kwargs": self.env_kwargs,
                "seeds": [self.first_seed, self.episodes], "metric": self.metric}
        if self.forfeit is not None:  # it changes the scores; boards without one keep their hash
            what["forfeit"] = self.forfeit
        return stable_hash(what)

    @property
    def seeds(self) -> list[int]:
        return list(range(self.first_seed, self.first_seed + self.episodes))

    @property
    def results_dir(self) -> Path | None:
        """Where this board's committed verified results files live."""
        return None if self.path is None else self.path.with_suffix("")

    def first(self, episodes: int) -> Board:
        """The board cut to its first `episodes` seeds (a smoke board with its own id)."""
        if episodes >= self.episodes:
            return self
        return replace(self, episodes=episodes, limited=True)

    def check(self, results: RunResults) -> None:
        """Raise `BoardMismatchError` unless `results` plays exactly this board's episodes."""
        if results.env_id != self.env_id:
            raise BoardMismatchError(f"board {self.id} ranks {self.env_id}; the file has env_id {results.env_id!r}")
        if results.split != self.split:
            raise BoardMismatchError(f"board {self.id} ranks split {self.split!r}; the file has split {results.split!r}")
        if canonical(results.env_kwargs) != canonical(self.env_kwargs):
            raise BoardMismatchError(
                f"board {self.id} is played with env_kwargs {self.env_kwargs}; the file has {results.env_kwargs}"
            )
        if results.seeds != self.seeds:
            missing = sorted(set(self.seeds) - set(results.seeds))
            extra = sorted(set(results.seeds) - set(self.seeds))
            parts = []
            if missing:
                parts.append(f"missing seeds {missing[:10]}{' ...' if len(missing) > 10 else ''}")
            if extra:
                parts.append(f"seeds not on the board {extra[:10]}{' ...' if len(extra) > 10 else ''}")
            detail = "; ".join(parts) or "seeds in another order"
            raise BoardMismatchError(
                f"board {self.id} needs episodes with seeds {self.first_seed}..{self.seeds[-1]} "
                f"({self.episodes} episodes, in order); the file has {len(results.seeds)} ({detail}). "
                f"Run `agentgym eval --env {self.env_id} --split {self.split} --episodes {self.episodes}`."
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": BOARD_FORMAT,
            "env_id": self.env_id,
            "split": self.split,
            "env_kwargs": canonical(self.env_kwargs),
            "first_seed": self.first_seed,
            "episodes": self.episodes,
            "metric": self.metric,
            "paired": self.paired,
            "columns": list(self.columns),
            "reference": self.reference,
            **({"forfeit": self.forfeit} if self.forfeit is not None else {}),
            **({"suite_episodes": self.suite_episodes} if self.suite_episodes is not None else {}),
            "description": self.description,
        }


def board_from_json(data: Any, source: str = "board") -> Board:
    """Build a `Board` from its JSON value; errors name the field."""
    if not isinstance(data, dict) or data.get("format") != BOARD_FORMAT:
        raise ValueError(f"{source}: not a board definition (expected an object with \"format\": \"{BOARD_FORMAT}\")")
    expected = {"env_id": str, "split": str, "episodes": int}
    for key, kind in expected.items():
        if not isinstance(data.get(key), kind) or isinstance(data.get(key), bool):
            raise ValueError(f"{source}: field {key!r} must be a {kind.__name__}, got {data.get(key)!r}")
    env_kwargs = data.get("env_kwargs", split_kwargs(data["split"]))
    if not isinstance(env_kwargs, dict):
        raise ValueError(f"{source}: field 'env_kwargs' must be an object, got {env_kwargs!r}")
    first_seed = data.get("first_seed", 0)
    if not isinstance(first_seed, int) or isinstance(first_seed, bool) or first_seed < 0:
        raise ValueError(f"{source}: field 'first_seed' must be an integer >= 0, got {first_seed!r}")
    forfeit = data.get("forfeit")
    if forfeit is not None and (isinstance(forfeit, bool) or not isinstance(forfeit, (int, float))):
        raise ValueError(f"{source}: field 'forfeit' must be a number (the score of a truncated episode), got {forfeit!r}")
    suite_episodes = data.get("suite_episodes")
    if suite_episodes is not None and (isinstance(suite_episodes, bool) or not isinstance(suite_episodes, int)):
        raise ValueError(f"{source}: field 'suite_episodes' must be an integer (the smoke board `agentgym suite` plays), "
                         f"got {suite_episodes!r}")
    columns = data.get("columns", [])
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise ValueError(f"{source}: field 'columns' must be a list of column names ({sorted(COLUMNS)})")
    try:
        return Board(
            env_id=data["env_id"],
            split=data["split"],
            episodes=data["episodes"],
            first_seed=first_seed,
            env_kwargs=env_kwargs,
            metric=str(data.get("metric", "success_rate")),
            description=str(data.get("description", "")),
            path=Path(source) if source != "board" else None,
            paired=bool(data.get("paired", False)),
            columns=tuple(columns),
            reference=str(data.get("reference", "")),
            forfeit=None if forfeit is None else float(forfeit),
            suite_episodes=suite_episodes,
        )
    except ValueError as error:
        raise ValueError(f"{source}: {error}") from None


#: The boards shipped inside the package (package data: a plain `pip install` has them).
PACKAGED_BOARDS = Path(__file__).resolve().parent / "definitions"


def default_boards_dir() -> Path:
    """`$AGENTGYM_BOARDS`, else the boards shipped in the package (`agentgym/leaderboard/definitions`)."""
    if os.environ.get(BOARDS_ENV_VAR):
        return Path(os.environ[BOARDS_ENV_VAR])
    return PACKAGED_BOARDS


def load_boards(root: str | Path | None = None) -> list[Board]:
    """Every board definition `<root>/<EnvId>/<split>.json`, sorted by id."""
    root = Path(root) if root is not None else default_boards_dir()
    if not root.is_dir():
        raise FileNotFoundError(
            f"board directory {str(root)!r} does not exist; pass --boards DIR or set {BOARDS_ENV_VAR} "
            "to a folder of <EnvId>/<split>.json board files"
        )
    boards = []
    for path in sorted(root.glob("*/*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"board file {path}: not valid JSON ({error})") from None
        boards.append(board_from_json(data, str(path)))
    seen: dict[str, Path | None] = {}
    for board in boards:
        if board.id in seen:
            raise ValueError(f"board {board.id} is defined twice: {seen[board.id]} and {board.path}")
        seen[board.id] = board.path
    return sorted(boards, key=lambda b: b.id)


def board_by_id(boards: dict[str, Board], board_id: str) -> Board | None:
    """The board `board_id` names, smoke boards `ID@N` included (cut from the full board)."""
    if board_id in boards:
        return boards[board_id]
    base, _, count = board_id.partition("@")
    if base in boards and count.isdigit() and int(count) >= 1:
        return boards[base].first(int(count))
    return None


def find_board(boards: list[Board], env_id: str, split: str) -> Board | None:
    for board in boards:
        if board.env_id == env_id and board.split == split and not board.limited:
            return board
    return None


def board_for_results(boards: list[Board], results: RunResults) -> Board:
    """The board a results file belongs to; errors list the boards there are for that env."""
    board = find_board(boards, results.env_id, results.split)
    if board is not None:
        smoke = board.first(len(results.seeds))
        return smoke if smoke.limited and results.seeds == smoke.seeds else board
    splits = sorted(b.split for b in boards if b.env_id == results.env_id)
    hint = f"boards for {results.env_id}: splits {splits}" if splits else f"no board ranks {results.env_id}"
    raise ResultsError(f"no board for env_id {results.env_id!r} split {results.split!r} ({hint})")
