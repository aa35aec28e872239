"""Rollout collection and storage: every step keeps the policy's inputs, so updates never run the dLLM.

One call of ``collect`` plays one episode in every slot of an env built with ``AutoresetMode.DISABLED`` (a
finished slot freezes until the next reset), from ``reset(seed=seed)``. Each step stores, for the rows still
running, the network's inputs (``policy_inputs``), the ``action_mask``, the action the env actually executed
(``info["committed"]``, which includes the env's empty-action fallback), that fallback position, and the
log-probability of the executed action under the policy that chose it.

Shapes: N envs, S stored steps (all episodes' steps together), E episodes, L answer positions, F features.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, fields

import torch

from .distribution import empty_sample_fallback, log_prob
from .policy import UnmaskingPolicy, policy_inputs

ALIVE_CHECK_EVERY = 4
"""On a GPU, ``collect`` asks whether any episode still runs every this many steps (a sync each time); the steps
past the last episode's end are dropped like every finished row's, so the rollouts are the same."""

Chooser = Callable[[dict[str, torch.Tensor], torch.Tensor], torch.Tensor]
"""``choose(obs, logits) -> action (N, L)``: the policy's own sample, or a heuristic's decision."""


@dataclass
class Rollouts:
    """Stored steps (S rows) and the episodes they belong to (E rows)."""

    features: torch.Tensor  # (S, L, F) float
    condition: torch.Tensor  # (S, L, C) float: (mask flag, step fraction[, coded alpha]), the adaLN conditioning
    action_mask: torch.Tensor  # (S, L) bool
    action: torch.Tensor  # (S, L) bool: what the env committed
    fallback: torch.Tensor  # (S,) int64: the env's empty-action position, -1 for none
    old_log_prob: torch.Tensor  # (S,) float: log-prob of ``action`` under the policy at collection time
    episode: torch.Tensor  # (S,) int64: the step's episode, an index into the per-episode fields
    reward: torch.Tensor  # (E,) float
    score: torch.Tensor  # (E,) float: the verifier's score in [0, 1]
    correct: torch.Tensor  # (E,) bool
    nfe: torch.Tensor  # (E,) int64
    group_key: list[tuple[int, int]]  # E x (group, episode_index): which rollouts share a prompt
    prompt_id: torch.Tensor  # (E,) int64
    is_expert: torch.Tensor  # (E,) bool: played by the steering heuristic
    alpha: torch.Tensor  # (E,) float: the trade-off each episode serves (a conditioned row's own, else the env's)
    beta: torch.Tensor  # (E,) float: the scale of the commit probabilities each episode was sampled with

    @property
    def num_steps(self) -> int:
        """S."""
        return self.action.shape[0]

    @property
    def num_episodes(self) -> int:
        """E."""
        return self.reward.shape[0]

    def cat(self, other: Rollouts) -> Rollouts:
        """Both rollouts as one (the other's episode indices shifted after this one's)."""
        merged = {}
        for item in fields(self):
            mine, theirs = getattr(self, item.name), getattr(other, item.name)
            if item.name == "episode":
                theirs = theirs + self.num_episodes
            merged[item.name] = mine + theirs if isinstance(mine, list) else torch.cat([mine, theirs])
        return Rollouts(**merged)


def collect(env: object, network: UnmaskingPolicy, seed: int, choose: Chooser, policy_fallback: bool = False,
            is_expert: bool = False, alpha: torch.Tensor | None = None, beta: torch.Tensor | None = None,
            check_every: int | None = None) -> Rollouts:  # fmt: skip
    """Plays one episode per slot of ``env`` (``AutoresetMode.DISABLED``) from ``reset(seed=seed)``.

    Args:
        env: an ``UnmaskVectorEnv`` with ``autoreset_mode=DISABLED``.
        network: scores every executed action (its logits also reach ``choose``).
        seed: the reset seed (prompt group g draws from ``seed + g``).
        choose: picks the action from the observation and the network's logits.
        policy_fallback: the policy's distribution turns an empty sample into its highest-logit position (else
            the env's ``empty_action`` decides what an empty action does).
        is_expert: marks the episodes as the steering heuristic's.
        alpha: (N,) the trade-off each row's conditioned policy serves (None for an unconditioned network).
        beta: (N,) the scale of each row's commit probabilities that ``choose`` samples with, so the stored
            log-probabilities are of that distribution (``distribution.log_prob``); None: beta 1.
        check_every: ask whether an episode still runs every this many steps (default: every step on a CPU, where
            asking is free; ``ALIVE_CHECK_EVERY`` elsewhere). The rollouts are the same either way.
    """
    config = network.config
    obs, info = env.reset(seed=seed)
    num_envs = obs["masked"].shape[0]
    device = obs["masked"].device
    group_key = [(row // env.group_size, int(index)) for row, index in enumerate(info["episode_index"].tolist())]
    prompt_id = info["prompt_id"].clone()
    alive = torch.ones(num_envs, dtype=torch.bool, device=device)
    reward = torch.zeros(num_envs, device=device)
    score = torch.zeros(num_envs, device=device)
    correct = torch.zeros(num_envs, dtype=torch.bool, device=device)
    nfe = torch.zeros(num_envs, dtype=torch.long, device=device)
    steps: dict[str, list[torch.Tensor]] = {name: [] for name in ("features", "condition", "action_mask", "action",
                                                                   "fallback", "old_log_prob", "episode")}  # fmt: skip
    rows = torch.arange(num_envs, device=device)
    stored_alive: list[torch.Tensor] = []  # every row is stored each step and the dead ones dropped once, at the end
    if check_every is None:
        check_every = 1 if device.type == "cpu" else ALIVE_CHECK_EVERY
    for step in itertools.count():
        if step % check_every == 0 and not bool(alive.any()):  # (a device -> host sync: every few steps on a GPU)
            break
        features, condition = policy_inputs(obs, config, alpha, beta)
        action_mask = obs["action_mask"]
        with torch.no_grad():
            logits = network(features, condition)  # (N, L)
        action = choose(obs, logits)
        fallback = empty_sample_fallback(logits, obs, env.empty_action, policy_fallback)
        obs, step_reward, terminated, truncated, info = env.step(action)
        executed = info["committed"]  # (N, L): the log-prob is of what the env did, not of what was asked
        with torch.no_grad():
            old = log_prob(logits, executed, action_mask, config.tau_train, fallback, config.commit_noise, beta)
        for name, value in zip(steps, (features, condition, action_mask, executed, fallback, old, rows), strict=True):
            steps[name].append(value)
        stored_alive.append(alive)
        ended = (terminated | truncated) & alive  # a time limit ends an episode too (reward 0, not correct)
        reward = torch.where(ended, step_reward, reward)
        score = torch.where(ended & ~truncated, info["score"], score)
        correct = torch.where(ended & ~truncated, info["correct"], correct)
        nfe = torch.where(ended, info["nfe"], nfe)
        alive = alive & ~ended
    keep = torch.cat(stored_alive)
    stored = {name: torch.cat(values)[keep] for name, values in steps.items()}
    return Rollouts(
        **stored, reward=reward, score=score, correct=correct, nfe=nfe, group_key=group_key, prompt_id=prompt_id,
        is_expert=torch.full((num_envs,), is_expert, device=device),
        alpha=torch.full((num_envs,), float(env.alpha), device=device) if alpha is None else alpha.clone(),
        beta=torch.ones(num_envs, device=device) if beta is None else beta.float().clone(),
    )  # fmt: skip
