"""Prompts per environment family and the output formats the LLM agent parses.

Formats (what the model must write each turn):

    think_action  verl-agent:  <think>reasoning</think><action>ACTION</action>
    hiper         HiPER:       <switch>KEEP|SWITCH</switch><subgoal>text</subgoal><action>ACTION</action>
    mars          MARS:        <think>reasoning</think><answer>ACTION</answer>
    action        <action>ACTION</action> (no reasoning; cheap evaluation)
    plain         the whole completion, stripped, is the action (tiny models, debugging)
    choice        the number of one listed admissible action (policies that cannot spell commands)

A completion that does not follow its format parses to `valid=False`; the agent then sends
`INVALID_ACTION`, which every env answers with `action_valid=False` and an unchanged state.
The prompt holds the task (the first observation), the last `history` observation/action
pairs, the current observation and, when the env gives them, the admissible actions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

#: Bumped whenever an intro, instruction or the layout of the prompt changes: LLM entries on a
#: leaderboard record it, so rows from different prompts are told apart.
PROMPT_VERSION = 1

#: What the agent sends when the completion is malformed: no env accepts it as an action.
INVALID_ACTION = "<malformed output>"

#: format name -> (tags in order, the tag holding the action, instruction shown to the model)
FORMATS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "think_action": (
        ("think", "action"),
        "action",
        "First reason step by step inside <think> </think>. Then write exactly one admissible action "
        "inside <action> </action>.",
    ),
    "hiper": (
        ("switch", "subgoal", "action"),
        "action",
        "Write <switch>KEEP</switch> to keep your current subgoal or <switch>SWITCH</switch> to start a "
        "new one, then the subgoal inside <subgoal> </subgoal>, then exactly one admissible action "
        "inside <action> </action>.",
    ),
    "mars": (
        ("think", "answer"),
        "answer",
        "First think inside <think> </think>. Then give your move inside <answer> </answer>, written "
        "exactly as one of the legal actions.",
    ),
    "action": (("action",), "action", "Write exactly one admissible action inside <action> </action>."),
    "plain": ((), "", ""),
    # The number of one listed admissible action (the agent maps it back): for policies that
    # cannot spell multi-word commands, such as the credit benchmark's one-word tiny models.
    "choice": ((), "", "Answer with the number of one admissible action."),
}

#: family -> the opening of the prompt (what the agent is and does).
FAMILY_INTROS: dict[str, str] = {
    "alfworld": "You are a household robot in a text simulation of a home. Complete the task by "
    "moving between places and handling objects.",
    "webshop": "You are shopping on a web store for a customer. Search, open products, choose their "
    "options and buy the one that best matches the instruction.",
    "sokoban": "You are playing Sokoban on a text grid: # wall, _ floor, O target, X box, \u221a box on "
    "target, P you, S you on a target. Push every box onto a target; you cannot pull boxes.",
    "games": "You are playing a turn-based game. Choose a legal move that helps you win.",
    "toolqa": "You answer a question by calling tools on a knowledge base and then giving the answer.",
    "": "You are an agent acting in a text environment. Reach the goal.",
}

#: The format each family uses when the agent is built with format="auto".
DEFAULT_FORMATS: dict[str, str] = {"games": "mars", "": "think_action"}


def default_format(family: str) -> str:
    return DEFAULT_FORMATS.get(family, DEFAULT_FORMATS[""])


@dataclass
class ParsedOutput:
    """A completion split into its tagged fields; `action` is None when `valid` is False."""

    action: str | None
    valid: bool
    fields: dict[str, str] = field(default_factory=dict)
    error: str = ""


def parse_output(text: str, fmt: str) -> ParsedOutput:
    """Parse a completion in format `fmt`; never raises on any text."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown output format {fmt!r}; choose one of {sorted(FORMATS)}")
    tags, action_tag, _ = FORMATS[fmt]
    if not isinstance(text, str):
        return ParsedOutput(None, False, error="completion is not text")
    if fmt in ("plain", "choice"):
        action = text.strip()
        return ParsedOutput(action or None, bool(action), {"action": action}, "" if action else "empty completion")
    fields: dict[str, str] = {}
    for tag in tags:
        found = re.findall(rf"<{tag}>(.*?)</{tag}>", text, flags=re.DOTALL)
        if len(found) != 1:
            problem = "missing" if not found else f"given {len(found)} times"
            return ParsedOutput(None, False, fields, f"<{tag}>...</{tag}> {problem}")
        fields[tag] = found[0].strip()
    positions = [text.find(f"<{tag}>") for tag in tags]
    if positions != sorted(positions):
        return ParsedOutput(None, False, fields, f"tags out of order; expected {' then '.join(tags)}")
    if fmt == "hiper" and fields["switch"].upper() not in ("KEEP", "SWITCH"):
        return ParsedOutput(None, False, fields, f"switch must be KEEP or SWITCH, got {fields['switch']!r}")
    action = fields[action_tag]
    if not action:
        return ParsedOutput(None, False, fields, f"empty <{action_tag}>")
    return ParsedOutput(action, True, fields)


def chosen_action(answer: str, admissible: Sequence[str]) -> str | None:
    """The admissible action a "choice" answer names (1-based number), or None."""
    answer = answer.strip()
    if answer.isdigit() and 1 <= int(answer) <= len(admissible):
        return str(admissible[int(answer) - 1])
    return None


@dataclass
class PromptBuilder:
    """Builds the chat messages of one turn for one env family and output format."""

    family: str = ""
    fmt: str = "think_action"
    history: int = 2
    list_actions: bool = True
    max_listed_actions: int = 60
    intro: str | None = None
    #: Show the first observation as the task (where it states one: ALFWorld, WebShop, ToolQA);
    #: False gives the current observation alone (a Markov state such as a Sokoban grid).
    show_task: bool = True

    def __post_init__(self) -> None:
        if self.fmt not in FORMATS:
            raise ValueError(f"unknown output format {self.fmt!r}; choose one of {sorted(FORMATS)}")
        if self.history < 0:
            raise ValueError(f"history must be >= 0 (steps shown); got {self.history}")

    def messages(
        self,
        observation: str,
        *,
        task: str = "",
        past: Sequence[tuple[str, str]] = (),
        admissible: Sequence[str] = (),
        step: int = 0,
        extra: str = "",
    ) -> list[dict[str, str]]:
        """One user message: intro, task, last steps, current observation, actions, format rule."""
        intro = self.intro if self.intro is not None else FAMILY_INTROS.get(self.family, FAMILY_INTROS[""])
        parts = [intro] if intro else []
        if self.show_task and task and task != observation:
            parts.append(f"Task (first observation):\n{task}")
        shown = list(past)[-self.history:] if self.history else []
        if shown:
            lines = [f"[step {step - len(shown) + k}] observation: {obs}\naction: {act}" for k, (obs, act) in enumerate(shown)]
            parts.append(f"You have taken {step} step(s); the last {len(shown)}:\n" + "\n".join(lines))
        parts.append(f"Current observation (step {step}):\n{observation}" if intro else str(observation))
        if extra:
            parts.append(extra)
        if self.list_actions and admissible:
            listed = list(admissible)[: self.max_listed_actions]
            more = len(admissible) - len(listed)
            if self.fmt == "choice":
                listed = [f"{k}: {a}" for k, a in enumerate(listed, 1)]
            parts.append("Admissible actions: " + " | ".join(listed) + (f" | ... ({more} more)" if more > 0 else ""))
        instruction = FORMATS[self.fmt][2]
        if instruction:
            parts.append(instruction)
        return [{"role": "user", "content": "\n\n".join(parts)}]
