"""Each trainer runs one real iteration with a tiny random policy; the credit plumbing is exact."""

import math

import pytest

pytest.importorskip("torch")

from agentgym.train.config import TrainConfig  # noqa: E402
from agentgym.train.trainer import Trainer, _Record  # noqa: E402
from agentgym.vector import Trajectory  # noqa: E402


def run_one(tmp_path, **overrides):
    values = dict(model="random:tiny", tokenizer="words", groups=1, group_size=2, iterations=1, max_new_tokens=12,
                  history=1, micro_batch_size=16, output_dir=str(tmp_path), save_every=0, env_kwargs={"max_episode_steps": 3})
    values.update(overrides)
    trainer = Trainer(TrainConfig(**values))
    try:
        return trainer, trainer.step()
    finally:
        trainer.close()


@pytest.mark.parametrize("algo", ["rloo", "hgpo", "hiper"])
def test_single_agent_trainers_run_an_iteration(algo, tmp_path):
    trainer, metrics = run_one(tmp_path, algo=algo, env="KeyDoor-v0")
    assert metrics["turns"] == 6 and math.isfinite(metrics["loss"]) and math.isfinite(metrics["adv_std"])
    if algo == "hiper":
        assert trainer.format == "hiper" and math.isfinite(metrics["value_loss"])


def test_mars_self_play_trains_both_seats(tmp_path):
    pytest.importorskip("pyspiel")
    trainer, metrics = run_one(tmp_path, algo="mars", env="TicTacToe-v0", env_kwargs={}, group_size=2, kl_coef=0.0)
    assert trainer.format == "mars" and metrics["turns"] >= 2 and math.isfinite(metrics["loss"])


def test_mars_on_a_single_agent_env_credits_the_agent_as_one_seat(tmp_path):
    trainer, metrics = run_one(tmp_path, algo="mars", env="KeyDoor-v0", kl_coef=0.0)
    assert not trainer.selfplay and metrics["turns"] == 6 and math.isfinite(metrics["loss"])
    record = _Record(_trajectory(0, [True, False], won_at=1), 0, 0)
    assert (record.seat, record.game) == (0, "KeyDoor-v0")


def _trajectory(group, valid, won_at=None, member=0):
    n = len(valid)
    infos = [{"state_hash": "s0"}] + [{"action_valid": ok, "won": t == won_at, "state_hash": f"s{t + 1}"}
                                      for t, ok in enumerate(valid)]
    rewards = [0.5 if t == won_at else 0.0 for t in range(n)]
    agent_info = [{"prompt_ids": [3, 4], "token_ids": [5, 6], "fields": {}} for _ in range(n)]
    return Trajectory("KeyDoor-v0", 0, group, member, observations=["o"] * (n + 1), actions=["east"] * n,
                      rewards=rewards, terminated=[t == won_at for t in range(n)], truncated=[False] * n,
                      infos=infos, agent_info=agent_info)


def test_records_scale_rewards_and_pay_the_win_only_with_source_won():
    t = _trajectory(0, [False, True, True], won_at=1)
    assert t.rewards == [0.0, 0.5, 0.0]
    record = _Record(t, 7, group=3, reward_scale=10.0)
    assert record.rewards == [0.0, 5.0, 0.0] and record.traj_id == 7 and record.group == 3
    assert _Record(t, 0, 0, 10.0, "won").rewards == [0.0, 10.0, 0.0]  # a full-score purchase only, as verl-agent
    assert t.rewards == [0.0, 0.5, 0.0]  # the recorded trajectory is untouched


@pytest.fixture(scope="module")
def tiny_trainer(tmp_path_factory):
    config = TrainConfig(algo="grpo", env="KeyDoor-v0", model="random:tiny", tokenizer="words", groups=1, group_size=2,
                         iterations=1, max_new_tokens=2, output_dir=str(tmp_path_factory.mktemp("run")), save_every=0,
                         invalid_penalty=0.3, advantage={"mode": "mean_norm"}, env_kwargs={"max_episode_steps": 2})
    trainer = Trainer(config)
    yield trainer
    trainer.close()


def test_invalid_penalty_lands_on_the_invalid_row_only(tiny_trainer):
    # same rewards; A's first action was invalid. Folded into the rewards, the penalty would lower
    # A's return and so every row of A; verl-agent subtracts it from the invalid row's score only.
    a, b = _trajectory(0, [False, True], won_at=1), _trajectory(0, [True, True], won_at=1, member=1)
    turns, stats = tiny_trainer.credit([a, b])
    adv = [t.advantage for t in turns]
    assert adv[1] == pytest.approx(adv[3]) and adv[2] == pytest.approx(adv[3])
    assert adv[0] == pytest.approx(adv[1] - 0.3)


def test_failed_episodes_are_left_out_of_the_credit(tiny_trainer):
    lost = _trajectory(0, [True], member=0)
    lost.failed = "worker 0 died"
    ok = [_trajectory(0, [False, True], won_at=1, member=1), _trajectory(0, [True, True, True], member=2)]
    turns, _ = tiny_trainer.credit([lost, *ok])
    assert len(turns) == 5  # rows of the failed episode would shift every index after it
    assert turns[0].advantage < turns[1].advantage  # the invalid row of the first episode kept


def test_a_worker_killed_mid_training_fails_its_episodes_not_the_iteration(tmp_path):
    import os
    import signal

    values = dict(algo="gigpo", env="KeyDoor-v0", model="random:tiny", tokenizer="words", groups=2, group_size=2,
                  iterations=1, max_new_tokens=2, output_dir=str(tmp_path), save_every=0, vector_backend="subprocess",
                  num_workers=2, env_kwargs={"max_episode_steps": 4})
    trainer = Trainer(TrainConfig(**values))
    act, calls = trainer.agent.act, []

    def act_then_kill(observations, infos, indices):
        calls.append(len(indices))
        if len(calls) == 2:
            os.kill(trainer.envs.worker_pids()[0], signal.SIGKILL)
        return act(observations, infos, indices)

    trainer.agent.act = act_then_kill
    try:
        metrics = trainer.step()
    finally:
        trainer.close()
    assert metrics["failed"] == 2 and metrics["episodes"] == 4
    assert metrics["turns"] > 0 and math.isfinite(metrics["loss"])


def test_lora_trains_only_the_adapter_and_uses_the_base_as_reference(tmp_path):
    import torch

    values = dict(algo="gigpo", env="KeyDoor-v0", model="random:tiny", tokenizer="words", groups=1, group_size=2,
                  iterations=1, max_new_tokens=4, lora_rank=4, lr=1e-2, output_dir=str(tmp_path), save_every=0,
                  env_kwargs={"max_episode_steps": 2})
    trainer = Trainer(TrainConfig(**values))
    try:
        assert trainer.ref_model is None
        frozen = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if not p.requires_grad}
        turns, _ = trainer.credit(trainer.rollout([0]))
        for k, turn in enumerate(turns):
            turn.advantage = 1.0 if k % 2 == 0 else -1.0
        stats = trainer.update(turns)
        assert math.isfinite(stats["loss"])
        assert all(torch.equal(p, frozen[n]) for n, p in trainer.model.named_parameters() if n in frozen)
        trainer.save()
    finally:
        trainer.close()
    assert (tmp_path / "checkpoint" / "adapter_model.safetensors").is_file()


def test_hiper_token_parts_follow_the_tags():
    from agentgym.llm.models import word_tokenizer
    from agentgym.train.trainer import _token_parts

    tokenizer = word_tokenizer(["<switch> KEEP </switch> <subgoal> get key </subgoal> <action> east </action>"])
    text = "<switch>KEEP</switch><subgoal>get key</subgoal><action>east</action>"
    ids = tokenizer.encode(text, add_special_tokens=False)
    parts = _token_parts(tokenizer, ids)
    words = dict(zip(tokenizer.convert_ids_to_tokens(ids), parts))
    assert (words["KEEP"], words["get"], words["key"], words["east"]) == ("switch", "subgoal", "subgoal", "action")


def test_hiper_segments_start_at_turn_0_and_every_switch_and_a_missing_switch_keeps():
    from types import SimpleNamespace

    switches = ["SWITCH", None, "", "keep", " switch ", "KEEP"]  # None: no <switch> tag in the answer
    infos = [{"fields": {} if s is None else {"switch": s}, "values": (0.1, 0.2, 0.3)} for s in switches]
    record = SimpleNamespace(agent_info=infos, rewards=[0.0] * len(infos))
    inputs = Trainer._hiper_inputs(None, [record, SimpleNamespace(agent_info=[{}, {}], rewards=[0.0, 1.0])])
    # HiPER-agent hier_mask.py: a missing or empty switch is KEEP; turn 0 always starts a segment
    assert inputs["segment_starts"] == [[True, False, False, False, True, False], [True, False]]
    assert inputs["values_high"][0] == [0.2] * 6 and inputs["values_low"][1] == [0.0, 0.0]


def test_validation_samples_at_its_temperature_on_held_out_seeds(tiny_trainer):
    c = tiny_trainer.config
    temperatures = []
    generate = tiny_trainer.backend.generate

    def record(conversations, params):
        temperatures.append(params.temperature)
        return generate(conversations, params)

    tiny_trainer.backend.generate = record
    try:
        stats = tiny_trainer.validate()
    finally:
        tiny_trainer.backend.generate = generate
    assert set(temperatures) == {c.val_temperature} and c.val_temperature != c.temperature
    assert tiny_trainer.agent.params.temperature == c.temperature  # training sampling untouched
    assert tiny_trainer._val_envs.seeds == [c.val_seed + k for k in range(c.val_episodes)]
    assert stats["val_episodes"] == c.val_episodes and "success" not in stats
