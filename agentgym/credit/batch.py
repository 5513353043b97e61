"""`StepBatch`: the flat, one-row-per-step input of every estimator, and its builders.

Rows may come in any order; estimators sort them by (trajectory, step) internally and return
advantages in the caller's row order. Everything is NumPy; nothing here imports torch.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

_OPTIONAL_FLOAT = ("values_low", "values_high", "values_term", "progress", "progress_prev")
_OPTIONAL_BOOL = ("action_valid", "segment_starts", "keep_turns", "truncated")
_OPTIONAL_OBJECT = ("state_hashes", "observations", "actions", "games")


@dataclass(eq=False)
class StepBatch:
    """One row per environment step (an LLM turn), as flat 1-D NumPy arrays of equal length.

    Required:
        rewards: float step rewards r_{i,t}.
        traj_ids: int trajectory of each row (unique per trajectory across the batch).
        group_ids: int group (trajectories started from the same seed); constant per trajectory.
        steps: int step index of the row inside its trajectory (unique per trajectory; only
            the order matters, gaps are allowed).
    Optional (None when absent; each estimator says which it needs):
        state_hashes: str/object anchor of the state BEFORE the action (`info["state_hash"]`).
        observations: str/object observation text before the action (GiGPO/HGPO text anchor).
        actions: str/object action taken at the row (SALT's edges, SPA's learned estimator).
        action_valid: bool, False where the env flagged the action invalid (default all True).
        seats: int player seat of the row (MARS).
        games: str game name of the row (MARS normalises per (game, seat)).
        segment_starts: bool, True where a HiPER segment starts (turn 0 and every SWITCH).
        keep_turns: bool, True where the agent's own `<switch>` said KEEP, turn 0 included
            (HiPER's keep penalty; absent: the rows that do not start a segment).
        values_low, values_high, values_term: float V^L, V^H, V^T of the row (HiPER).
        truncated: bool, True on the last row of a trajectory cut by a time limit (not
            terminated); HiPER may bootstrap there.
        progress: float progress (potential) of the state AFTER the step.
        progress_prev: float progress of the state BEFORE the step; if None, the previous
            row's `progress` is used and 0.0 for a trajectory's first step.

    Arrays are validated and converted once here; the row layout and the anchor codes are then
    cached, so treat a batch as read-only (`dataclasses.replace` makes a modified copy).
    """

    rewards: np.ndarray
    traj_ids: np.ndarray
    group_ids: np.ndarray
    steps: np.ndarray
    state_hashes: np.ndarray | None = None
    observations: np.ndarray | None = None
    actions: np.ndarray | None = None
    action_valid: np.ndarray | None = None
    seats: np.ndarray | None = None
    games: np.ndarray | None = None
    segment_starts: np.ndarray | None = None
    keep_turns: np.ndarray | None = None
    values_low: np.ndarray | None = None
    values_high: np.ndarray | None = None
    values_term: np.ndarray | None = None
    truncated: np.ndarray | None = None
    progress: np.ndarray | None = None
    progress_prev: np.ndarray | None = None
    _layout: Layout | None = field(default=None, init=False, repr=False)
    _codes: dict[str, np.ndarray] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.rewards = _float_array("rewards", self.rewards)
        n = self.rewards.shape[0]
        self.traj_ids = _int_array("traj_ids", self.traj_ids, n)
        self.group_ids = _int_array("group_ids", self.group_ids, n)
        self.steps = _int_array("steps", self.steps, n)
        if self.seats is not None:
            self.seats = _int_array("seats", self.seats, n)
        for name in _OPTIONAL_FLOAT:
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, _float_array(name, value, n))
        for name in _OPTIONAL_BOOL:
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, _bool_array(name, value, n))
        for name in _OPTIONAL_OBJECT:
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, _object_array(name, value, n))
        if n == 0:
            return
        lay = self.layout
        dup = (np.diff(self.traj_ids[lay.order]) == 0) & (np.diff(self.steps[lay.order]) == 0)
        if dup.any():
            row = lay.order[int(np.flatnonzero(dup)[0]) + 1]
            raise ValueError(
                f"StepBatch: trajectory {self.traj_ids[row]} has step {self.steps[row]} twice; "
                "each (traj_id, step) pair must be unique (give every trajectory its own traj_id)"
            )
        first_group = self.group_ids[lay.first_row][lay.traj_code]
        bad = self.group_ids[lay.order] != first_group
        if bad.any():
            row = lay.order[int(np.flatnonzero(bad)[0])]
            raise ValueError(
                f"StepBatch: trajectory {self.traj_ids[row]} spans several group_ids; a trajectory "
                "belongs to exactly one group (the seed group it was started from)"
            )
        if self.segment_starts is not None and not self.segment_starts[lay.first_row].all():
            row = lay.first_row[int(np.flatnonzero(~self.segment_starts[lay.first_row])[0])]
            raise ValueError(
                f"StepBatch: segment_starts is False on the first step of trajectory {self.traj_ids[row]}; "
                "a HiPER segment always starts at turn 0 (set segment_starts=True there)"
            )

    def __len__(self) -> int:
        return int(self.rewards.shape[0])

    @property
    def layout(self) -> Layout:
        """Rows sorted by (trajectory, step), computed once and cached."""
        if self._layout is None:
            self._layout = Layout.build(self.traj_ids, self.steps)
        return self._layout

    def codes(self, name: str) -> np.ndarray:
        """Dense int codes of an object column (equal values share a code), computed once."""
        if name not in self._codes:
            values = getattr(self, name)
            if values is None:
                raise ValueError(f"StepBatch.{name} is not set")
            try:  # one C-level pass: each value's code is the row of its first occurrence
                first: dict[Any, int] = {}
                raw = np.fromiter(map(first.setdefault, values, range(len(values))), dtype=np.int64, count=len(values))
            except TypeError as exc:
                raise ValueError(
                    f"StepBatch.{name} must hold hashable values (str digests, text); {exc}"
                ) from None
            present = np.zeros(len(values), dtype=np.int64)
            present[raw] = 1
            self._codes[name] = (np.cumsum(present) - 1)[raw]  # dense, in order of first occurrence
        return self._codes[name]

    def require(self, estimator: str, *names: str) -> None:
        """Raise a clear error if a field the estimator needs is missing."""
        missing = [n for n in names if getattr(self, n) is None]
        if missing:
            raise ValueError(
                f"{estimator} needs StepBatch field(s) {', '.join(missing)}; build the batch with "
                f"them (StepBatch(..., {missing[0]}=...) or from_trajectories(...) on records carrying them)"
            )

    def valid_mask(self) -> np.ndarray:
        """`action_valid`, or all True when absent."""
        if self.action_valid is None:
            return np.ones(len(self), dtype=bool)
        return self.action_valid


@dataclass(frozen=True, eq=False)
class Layout:
    """Trajectory structure of a batch, vectorised.

    order: row indices sorted by (traj_id, step); traj_code: dense trajectory index (0..T-1) of
    each sorted row; pos: position of each sorted row in its trajectory; lengths: rows per
    trajectory; first_row / last_row: the batch row of each trajectory's first / last step;
    pad_shape: (max_len, T), the time-major padded matrix of `to_pad` (one column per
    trajectory, so a backward scan reads contiguous rows).
    """

    order: np.ndarray
    traj_code: np.ndarray
    pos: np.ndarray
    lengths: np.ndarray
    first_row: np.ndarray
    last_row: np.ndarray
    pad_shape: tuple[int, int]

    @staticmethod
    def build(traj_ids: np.ndarray, steps: np.ndarray) -> Layout:
        order = _sort_order(traj_ids, steps)
        t_sorted = traj_ids[order]
        new = np.empty(len(order), dtype=bool)
        new[:1] = True
        new[1:] = t_sorted[1:] != t_sorted[:-1]
        starts = np.flatnonzero(new)
        traj_code = np.cumsum(new) - 1
        pos = np.arange(len(order)) - starts[traj_code]
        lengths = np.diff(np.append(starts, len(order)))
        return Layout(
            order=order,
            traj_code=traj_code,
            pos=pos,
            lengths=lengths,
            first_row=order[starts],
            last_row=order[starts + lengths - 1],
            pad_shape=(int(lengths.max(initial=0)), len(starts)),
        )

    @property
    def n_traj(self) -> int:
        return int(self.lengths.shape[0])

    def row_traj(self, n: int) -> np.ndarray:
        """Dense trajectory index of every row, in batch row order."""
        out = np.empty(n, dtype=np.int64)
        out[self.order] = self.traj_code
        return out

    def to_pad(self, values: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """Scatter per-row values into the (max_len, T) matrix, `fill` past the ends."""
        out = np.full(self.pad_shape, fill, dtype=np.float64)
        out[self.pos, self.traj_code] = values[self.order]
        return out

    def from_pad(self, matrix: np.ndarray) -> np.ndarray:
        """Gather a (max_len, T) matrix back into batch row order."""
        out = np.empty(len(self.order), dtype=matrix.dtype)
        out[self.order] = matrix[self.pos, self.traj_code]
        return out


def _sort_order(traj_ids: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Row order sorted by (traj_id, step); O(n) when the rows already come in that order."""
    n = len(traj_ids)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    t0, s0 = int(traj_ids.min()), int(steps.min())
    width = int(steps.max()) - s0 + 1
    if (int(traj_ids.max()) - t0 + 1) * width < 2**62:
        key = (traj_ids - t0) * width + (steps - s0)
        if (key[1:] >= key[:-1]).all():
            return np.arange(n)
        return np.argsort(key, kind="stable")
    return np.lexsort((steps, traj_ids))


def _check_len(name: str, arr: np.ndarray, n: int | None) -> np.ndarray:
    if arr.ndim != 1:
        raise ValueError(
            f"StepBatch.{name} must be a flat 1-D array (one value per step row); got shape {arr.shape}"
        )
    if n is not None and arr.shape[0] != n:
        raise ValueError(
            f"StepBatch.{name} has {arr.shape[0]} rows but rewards has {n}; every field needs one value per step row"
        )
    return arr


def _float_array(name: str, value: Any, n: int | None = None) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"StepBatch.{name} must hold numbers: {exc}") from None
    _check_len(name, arr, n)
    if not np.isfinite(arr).all():
        raise ValueError(
            f"StepBatch.{name} holds NaN or inf at row {int(np.flatnonzero(~np.isfinite(arr))[0])}; "
            "pass finite values"
        )
    return arr


def _int_array(name: str, value: Any, n: int) -> np.ndarray:
    arr = np.asarray(value)
    _check_len(name, arr, n)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise ValueError(
                f"StepBatch.{name} must hold integers (dtype {arr.dtype} given); map string ids to ints, "
                "e.g. with np.unique(ids, return_inverse=True)[1]"
            )
    return arr.astype(np.int64, copy=False)


def _bool_array(name: str, value: Any, n: int) -> np.ndarray:
    arr = np.asarray(value)
    _check_len(name, arr, n)
    if arr.size and arr.dtype != bool:
        if not np.isin(arr, (0, 1)).all():
            raise ValueError(f"StepBatch.{name} must hold booleans (True/False or 0/1)")
    return arr.astype(bool, copy=False)


def _object_array(name: str, value: Any, n: int) -> np.ndarray:
    if isinstance(value, np.ndarray):
        arr = value if value.dtype == object else value.astype(object)
    else:
        arr = np.empty(len(value), dtype=object)
        arr[:] = list(value)
    _check_len(name, arr, n)
    return arr


# ----------------------------------------------------------------- building from trajectories

_GROUP_NAMES = ("group_index", "group_id", "group")


def _get(record: Any, name: str, default: Any = None) -> Any:
    if isinstance(record, Mapping):
        return record.get(name, default)
    return getattr(record, name, default)


def _info_column(infos: Sequence[Mapping[str, Any]], key: str) -> list[Any] | None:
    if not infos or any(key not in info for info in infos):
        return None
    return [info[key] for info in infos]


def from_trajectories(
    trajectories: Sequence[Any],
    *,
    segment_starts: Sequence[Sequence[bool]] | None = None,
    values_low: Sequence[Sequence[float]] | None = None,
    values_high: Sequence[Sequence[float]] | None = None,
    values_term: Sequence[Sequence[float]] | None = None,
    drop_failed: bool = True,
) -> StepBatch:
    """Build a `StepBatch` from per-trajectory records (objects or dicts).

    Accepts `agentgym.vector.Trajectory` and any object or dict with the same names. Each record
    needs `rewards` (n floats) and a group id (`group`, `group_index` or `group_id`; make them
    unique across the whole batch when merging several collect calls). Optional: `infos` (n + 1
    dicts, the reset info first, or n step infos plus a `reset_info`), `observations` (n + 1
    texts), `truncated` (n per-step flags or one bool), the seat (`seat` int, or `agent` name,
    numbered in sorted order over the batch), the game (`game`, else `env_id`), `traj_id`
    (default: the record's position), `failed` (records with an error are skipped with a warning
    unless `drop_failed=False`), and HiPER's per-step `segment_starts`, `values_low`,
    `values_high`, `values_term` (the keyword arguments here, one list per record, override them),
    `actions` (n, for SALT and SPA) and `agent_info` (per-step dicts whose `fields["switch"]`, the
    HiPER format's parsed `<switch>`, gives `keep_turns`: True where it reads KEEP or is missing).

    From the infos: `state_hashes` = the state hash BEFORE each action (reset info for step 0),
    `action_valid` and `progress` from the info returned by each step, `progress_prev` from the
    info before it. A column is left None when any info lacks its key.
    """
    if len(trajectories) == 0:
        raise ValueError("from_trajectories: no trajectories given; pass at least one rollout record")
    columns: dict[str, list[Any]] = {
        k: []
        for k in COLUMNS
    }
    present = {k: True for k in columns}
    overrides = {
        "segment_starts": segment_starts,
        "values_low": values_low,
        "values_high": values_high,
        "values_term": values_term,
    }
    agent_names = sorted({str(a) for a in (_get(r, "agent") for r in trajectories) if a is not None})
    for i, rec in enumerate(trajectories):
        if drop_failed and _get(rec, "failed"):
            logger.warning("from_trajectories: trajectory %d failed (%s); skipped", i, _get(rec, "failed"))
            continue
        rewards = _get(rec, "rewards")
        if rewards is None:
            raise ValueError(
                f"from_trajectories: trajectory {i} has no `rewards`; each record needs its step rewards"
            )
        n = len(rewards)
        if n == 0:
            logger.warning("from_trajectories: trajectory %d has no steps; skipped", i)
            continue
        group = next((g for g in (_get(rec, k) for k in _GROUP_NAMES) if g is not None), None)
        if group is None:
            raise ValueError(
                f"from_trajectories: trajectory {i} has no group id; set `group_index` (the seed group "
                "it was started from) on each record"
            )
        traj_id = _get(rec, "traj_id", i)
        columns["rewards"].append(np.asarray(rewards, dtype=np.float64))
        columns["traj_ids"].append(np.full(n, int(traj_id)))
        columns["group_ids"].append(np.full(n, int(group)))
        columns["steps"].append(np.arange(n))

        infos = list(_get(rec, "infos") or [])
        if len(infos) == n:
            reset_info = _get(rec, "reset_info")
            before = [reset_info, *infos[:-1]] if reset_info is not None else None
            after = infos
        elif len(infos) == n + 1:
            before, after = infos[:-1], infos[1:]
        else:
            if infos:
                raise ValueError(
                    f"from_trajectories: trajectory {i} has {n} rewards but {len(infos)} infos; expected "
                    f"{n + 1} (reset info first) or {n} plus a `reset_info`"
                )
            before, after = None, None
        per_traj = {
            "state_hashes": _info_column(before, "state_hash") if before else None,
            "progress_prev": _info_column(before, "progress") if before else None,
            "action_valid": _info_column(after, "action_valid") if after else None,
            "progress": _info_column(after, "progress") if after else None,
        }
        obs = _get(rec, "observations")
        per_traj["observations"] = list(obs[:n]) if obs is not None and len(obs) >= n else None
        acts = _get(rec, "actions")
        per_traj["actions"] = [_hashable(a) for a in acts[:n]] if acts is not None and len(acts) >= n else None
        per_traj["keep_turns"] = _keep_turns(_get(rec, "agent_info"), n)
        seat = _get(rec, "seat")
        if seat is None and _get(rec, "agent") is not None:
            seat = agent_names.index(str(_get(rec, "agent")))
        per_traj["seats"] = [int(seat)] * n if seat is not None else None
        game = _get(rec, "game", _get(rec, "env_id"))
        per_traj["games"] = [game] * n if game is not None else None
        trunc = _get(rec, "truncated")
        if isinstance(trunc, (bool, np.bool_)):
            trunc = [False] * (n - 1) + [bool(trunc)]
        elif trunc is not None and len(trunc) != n:
            trunc = None if len(trunc) == 0 else _bad_length(i, n, len(trunc), "truncated")
        per_traj["truncated"] = list(trunc) if trunc is not None else None
        for key, override in overrides.items():
            value = override[i] if override is not None else _get(rec, key)
            if value is not None and len(value) != n:
                raise ValueError(f"from_trajectories: trajectory {i} has {n} steps but {len(value)} {key}")
            per_traj[key] = list(value) if value is not None else None
        for key, value in per_traj.items():
            if value is None:
                present[key] = False
            elif present[key]:
                columns[key].append(value)
    if not columns["rewards"]:
        raise ValueError("from_trajectories: every trajectory is empty; nothing to compute")
    kwargs: dict[str, Any] = {}
    for key, parts in columns.items():
        if not present[key]:
            continue
        if key in _OPTIONAL_OBJECT:
            kwargs[key] = [v for part in parts for v in part]
        else:
            kwargs[key] = np.concatenate([np.asarray(p) for p in parts])
    return StepBatch(**kwargs)


def _hashable(value: Any) -> Any:
    """Actions as dict keys: lists and dicts (tool calls) become their JSON text."""
    if isinstance(value, (list, dict)):
        import json

        return json.dumps(value, sort_keys=True, default=str)
    return value


def switch_is_keep(switch: Any) -> bool:
    """Whether a turn's `<switch>` value keeps the current segment (HiPER format).

    A missing or empty switch counts as KEEP, as in HiPER-agent's `hier_mask.py`
    (`default_switch_value="KEEP"`); anything but KEEP is a SWITCH.
    """
    return str(switch or "KEEP").strip().upper() in ("KEEP", "")


def _keep_turns(agent_info: Any, n: int) -> list[bool] | None:
    """KEEP decisions from the agent's parsed `<switch>` field (`switch_is_keep`), None without one."""
    if not agent_info or len(agent_info) < n:
        return None
    fields = [(info.get("fields") or {}) if isinstance(info, Mapping) else {} for info in agent_info[:n]]
    if not any("switch" in f for f in fields):
        return None
    return [switch_is_keep(f.get("switch")) for f in fields]


def _bad_length(i: int, n: int, got: int, name: str) -> Any:
    raise ValueError(f"from_trajectories: trajectory {i} has {n} steps but {got} {name}; give one per step")


#: The public per-row columns of a StepBatch, in field order.
COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(StepBatch) if not f.name.startswith("_"))
