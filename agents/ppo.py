"""PPO for the unmasking policy, read top to bottom like CleanRL's ``ppo.py``.

Each iteration: (1) play ``num_steps`` per-step decisions in each of the ``num_envs`` slots of a SAME_STEP env
(episodes restart inside the rollout, the env keeps running across iterations), storing the policy's inputs, the
executed action (``info["committed"]``), its log-probability and the value; (2) generalized advantage estimation
over the rollout; (3) ``update_epochs`` passes of clipped policy and value losses with an entropy bonus over
minibatches of stored steps (the dLLM never re-runs), advantages normalised per minibatch, gradients clipped, the
learning rate annealed linearly. The network is the paper's policy (``UnmaskingPolicy``) with a value head on
its position representations, averaged over the answer.

In this MDP running out of the NFE budget is ``terminated`` (the budget is part of the state, the reward is
final), so an ended episode's value is 0; only ``truncated`` (a user's own time limit) bootstraps, from the
value of ``info["final_obs"]``. Everything stays on the env's device as torch tensors.

Shapes: T rollout steps, N envs, L answer positions, F features, C conditions, B = T * N stored steps.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium.vector import AutoresetMode
from torch import nn

from unmask_gym.distributed import Distributed
from unmask_gym.env import UnmaskVectorEnv

from .distribution import empty_sample_fallback, entropy, highest_logit, log_prob, sample_action
from .grpo import (
    check_trainer_compile_step,
    clipped_surrogate_loss,
    iteration_seed,
    restore_reward,
    reward_name,
    save_if_due,
    seed_generators,
    trained_env_kwargs,
)
from .loading import initialise_from, read_checkpoint, save_checkpoint
from .policy import LearnedPolicy, PolicyConfig, UnmaskingPolicy, policy_inputs


@dataclass
class PPOConfig:
    """Everything a PPO run needs (``unmask-gym train --algo ppo`` flags); CleanRL's defaults where they apply."""

    task: str = "permutation"
    """Built-in task: addition, permutation, permutation-v0, statetracking, sudoku."""
    block_length: int | str | None = "task"  # unmask_gym.config.TASK_DEFAULT; a literal: train.py reads it by ast
    """Semi-AR block length; None: full diffusion; "task": the task's default (4 for the built-in tasks)."""
    alpha: float = 1.0
    """Compute exponent of the multiplicative reward (weight of the additive one)."""
    reward: str = "multiplicative"
    """"multiplicative" (the paper's Eq.) or "additive"."""
    answer_length: int | None = None
    """L (default: the task's)."""
    max_nfe: int | None = None
    """NFE budget per episode (default: L)."""
    empty_action: str = "noop"
    """The env's ``empty_action``; it acts only without ``policy_fallback``."""
    policy_fallback: bool = True
    """An empty sample commits the highest-logit position (part of the policy's distribution, so NFE <= L)."""
    temperature: float = 0.0
    """The dLLM's token sampling temperature (0: greedy)."""
    model: str | None = None
    """dLLM: a shipped name or a checkpoint path (default: the task's shipped model)."""
    iterations: int = 200
    """PPO iterations (one rollout of num_steps x num_envs decisions and its update epochs each)."""
    num_envs: int = 64
    """Parallel env slots (per process under torchrun)."""
    num_steps: int = 16
    """Decisions per slot per rollout (T)."""
    learning_rate: float = 3e-4
    """Adam learning rate (CleanRL: 2.5e-4)."""
    anneal_lr: bool = True
    """Linear learning-rate decay to 0 over the run (CleanRL)."""
    gamma: float = 1.0
    """Discount; 1: the terminal reward is the return (an episode is at most L steps)."""
    gae_lambda: float = 0.95
    """GAE lambda (CleanRL: 0.95)."""
    update_epochs: int = 4
    """Passes over each rollout (CleanRL: 4)."""
    num_minibatches: int = 4
    """Minibatches per pass (CleanRL: 4)."""
    normalize_advantages: bool = True
    """Normalise advantages per minibatch (CleanRL)."""
    clip_coef: float = 0.2
    """Ratio clip epsilon, also the value clip (CleanRL: 0.2)."""
    clip_value_loss: bool = True
    """Clip the value update around the rollout's values (CleanRL)."""
    entropy_coef: float = 0.01
    """Entropy bonus weight (CleanRL: 0.01)."""
    value_coef: float = 0.5
    """Value loss weight (CleanRL: 0.5)."""
    max_grad_norm: float = 0.5
    """Gradient-norm clip (CleanRL: 0.5)."""
    sync_free: bool = False
    """Roll out in a ``sync_free`` env (no host round trip in a step, or one overlapping the forward for text tasks;
    the same rollouts): for a GPU."""
    compile_step: bool = False
    """With ``sync_free`` and a task scored on the device: the env's step through ``torch.compile``
    (``compile_step=True``; the same rollouts within float rounding), for a GPU. Not ``"reduce-overhead"``: the
    rollout buffer keeps the step's tensors, which a CUDA graph's next step would overwrite."""
    init_policy: str | None = None
    """Start from this trained policy's weights instead of a fresh network (a shipped name, a run folder or a
    checkpoint; ``loading.initialise_from``): the same features and network shape, and a conditioned run may start
    from a policy trained for one alpha. None: a fresh network seeded by ``seed``."""
    seed: int = 0
    """Seeds the prompts, the policy's sampling, minibatch order and the initialisation."""
    device: str | None = None
    """Torch device (default: cuda if available, else cpu; under torchrun: cuda:LOCAL_RANK)."""
    out: str | None = None
    """Run folder: checkpoints/, policy.pt, metrics.csv (None: nothing written)."""
    checkpoint_every: int = 50
    """Checkpoint every this many iterations (and always after the last)."""

    def __post_init__(self) -> None:
        for name in ("iterations", "num_envs", "num_steps", "update_epochs", "num_minibatches", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "iterations" else 1):
                raise ValueError(f"{name} must be an int >= {0 if name == 'iterations' else 1}, got {value!r}")
        check_trainer_compile_step(self.compile_step, self.sync_free)
        if self.num_envs * self.num_steps < self.num_minibatches:
            raise ValueError(f"num_minibatches={self.num_minibatches} exceeds the rollout's "
                             f"{self.num_envs * self.num_steps} steps")  # fmt: skip
        if not 0 <= self.gamma <= 1 or not 0 <= self.gae_lambda <= 1:
            raise ValueError(f"gamma and gae_lambda must lie in [0, 1], got {self.gamma}, {self.gae_lambda}")
        if not 0 < self.clip_coef:
            raise ValueError(f"clip_coef must be > 0, got {self.clip_coef}")
        if self.empty_action == "error" and not self.policy_fallback:
            raise ValueError('empty_action="error" would stop training at the first empty sample; use "noop", '
                             '"top_confidence" or policy_fallback=True')  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly fields (a callable reward by its name: ``reward_name``)."""
        return {**dataclasses.asdict(self), "reward": reward_name(self.reward)}


def generalized_advantages(rewards: torch.Tensor, values: torch.Tensor, terminated: torch.Tensor,
                           truncated: torch.Tensor, final_values: torch.Tensor, next_value: torch.Tensor,
                           gamma: float, gae_lambda: float) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """GAE over a (T, N) rollout whose step t's flags describe the transition taken at t.

    After a ``terminated`` step the next value is 0; after a ``truncated`` one it is ``final_values[t]`` (the
    finished episode's last state), and in both cases the trace stops there (the next stored state belongs to the
    next episode). After the last step the bootstrap is ``next_value`` (N,). Returns (advantages, returns).

    Example:
        >>> rewards, values = torch.tensor([[0.0], [1.0], [0.0]]), torch.tensor([[0.5], [0.5], [0.2]])
        >>> ended = torch.tensor([[False], [True], [False]])
        >>> advantages, _ = generalized_advantages(rewards, values, ended, torch.zeros_like(ended),
        ...     torch.zeros(3, 1), torch.tensor([0.4]), gamma=1.0, gae_lambda=1.0)
        >>> [round(x, 3) for x in advantages.flatten().tolist()]  # [0 + 0.5 - 0.5 + 0.5, 1 - 0.5, 0.4 - 0.2]
        [0.5, 0.5, 0.2]
    """
    advantages = torch.zeros_like(rewards)
    last = torch.zeros_like(next_value)
    for t in reversed(range(rewards.shape[0])):
        following = next_value if t == rewards.shape[0] - 1 else values[t + 1]
        bootstrap = torch.where(terminated[t], 0.0, torch.where(truncated[t], final_values[t], following))
        delta = rewards[t] + gamma * bootstrap - values[t]
        last = delta + gamma * gae_lambda * (~(terminated[t] | truncated[t])).float() * last
        advantages[t] = last
    return advantages, advantages + values


def clipped_value_loss(new_value: torch.Tensor, old_value: torch.Tensor, returns: torch.Tensor, clip_coef: float,
                       clip: bool = True) -> torch.Tensor:  # fmt: skip
    """0.5 * mean(max((v - R)^2, (v_old + clip(v - v_old, -eps, eps) - R)^2)), or the plain squared error.

    Example:
        >>> loss = clipped_value_loss(torch.tensor([1.0]), torch.tensor([0.0]), torch.tensor([1.0]), 0.2)
        >>> round(loss.item(), 4)  # the update is clipped to 0.2: 0.5 * (0.2 - 1)^2
        0.32
    """
    unclipped = (new_value - returns) ** 2
    if not clip:
        return 0.5 * unclipped.mean()
    clipped = (old_value + (new_value - old_value).clamp(-clip_coef, clip_coef) - returns) ** 2
    return 0.5 * torch.max(unclipped, clipped).mean()


class ActorCritic(nn.Module):
    """The paper's policy and a value head on its position representations (mean over the answer)."""

    def __init__(self, policy: UnmaskingPolicy) -> None:
        super().__init__()
        self.policy = policy
        with torch.random.fork_rng(devices=[]):  # seeded like the policy, so a run's seed fixes the whole agent
            torch.manual_seed(policy.config.seed + 1)
            self.value_head = nn.Linear(policy.config.width, 1)

    def forward(self, features: torch.Tensor, condition: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (N, L) and values (N,)."""
        hidden = self.policy.hidden(features, condition)
        return self.policy.head(hidden).squeeze(-1), self.value_head(hidden.mean(1)).squeeze(-1)


@dataclass
class Rollout:
    """One iteration's stored steps, (T, N, ...) each."""

    features: torch.Tensor
    condition: torch.Tensor
    action_mask: torch.Tensor
    action: torch.Tensor
    fallback: torch.Tensor
    log_prob: torch.Tensor
    value: torch.Tensor
    reward: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    final_value: torch.Tensor


class PPOTrainer:
    """Holds the env, the actor-critic, the optimiser and the generators of one run; ``run()`` yields metrics.

    Under ``torchrun`` each rank plays its own env slice with its own prompt groups and the gradients are averaged
    across ranks (``DistributedDataParallel``); only rank 0 writes.

    Example:
        >>> from unmask_gym.testing import CountingTask, FakeDiffusionLM
        >>> config = PPOConfig(iterations=2, num_envs=4, num_steps=4, block_length=None, device="cpu")
        >>> trainer = PPOTrainer(config, PolicyConfig(width=16), task=CountingTask(4), model=FakeDiffusionLM())
        >>> [round(metrics["iteration"]) for metrics in trainer.run()]
        [1, 2]
    """

    def __init__(self, config: PPOConfig, policy_config: PolicyConfig | None = None, *, task: Any = None,
                 model: Any = None) -> None:  # fmt: skip
        self.config = config
        self.distributed = Distributed.from_environment(config.device)
        self._task, self._model = task, model
        policy_config = policy_config or PolicyConfig()
        if policy_config.conditioned:
            raise ValueError("PPO trains a policy for one alpha; alpha_range (a conditioned policy) is GRPO's")
        self.env = UnmaskVectorEnv(
            config.num_envs, task=config.task if task is None else task, model=config.model if model is None else model,
            block_length=config.block_length, answer_length=config.answer_length, max_nfe=config.max_nfe,
            reward=config.reward, alpha=config.alpha, empty_action=config.empty_action,
            temperature=config.temperature, autoreset_mode=AutoresetMode.SAME_STEP,
            observe_hidden="hidden" in policy_config.features, sync_free=config.sync_free,
            compile_step=config.compile_step,
            device=self.distributed.device, first_group=self.distributed.rank * config.num_envs,
        )  # fmt: skip
        policy_config = policy_config.resolved_for(self.env, config.seed)
        network = UnmaskingPolicy(policy_config)
        if config.init_policy is not None:
            initialise_from(network, config.init_policy)
        self.agent = ActorCritic(network).to(self.env.device)
        self.model = self.distributed.wrap(self.agent)  # DDP under torchrun, the module itself otherwise
        self.optimizer = torch.optim.Adam(self.agent.parameters(), lr=config.learning_rate, eps=1e-5)
        self.rollout_generator = torch.Generator(device=self.env.device)  # seeded per iteration and rank
        self.shuffle_generator = torch.Generator()
        self.iteration = 0
        self._obs: dict[str, torch.Tensor] | None = None

    @property
    def policy(self) -> UnmaskingPolicy:
        """The policy network (what ``load_policy`` reads back)."""
        return self.agent.policy

    @property
    def env_kwargs(self) -> dict[str, Any]:
        """The MDP settings the policy is trained for, with the task's defaults resolved."""
        return trained_env_kwargs(self.env, self.config, self._task, self._model)

    def learned_policy(self, beta: float = 1.0, seed: int = 0) -> LearnedPolicy:
        """The current network as an ``obs -> action`` callable (shares the parameters)."""
        return LearnedPolicy(self.policy, self.env_kwargs, beta=beta, seed=seed, name=f"ppo:{self.config.task}")

    def close(self) -> None:
        """Leaves the ``torchrun`` job once every rank is done (a no-op in one process); the trainer stays usable.

        The DDP wrapper holds the process group, so it goes first: the group is then freed, and gloo's threads joined,
        while Python is whole. Left to interpreter shutdown, that teardown can abort the process (SIGABRT).
        """
        self.model = self.agent
        self.distributed.close()

    def run(self) -> Iterator[dict[str, float]]:
        """Runs the remaining iterations, yielding each one's metrics."""
        if self.config.iterations == 0:  # the policy as it starts is the run
            save_if_due(self)
        while self.iteration < self.config.iterations:
            metrics = self.train_iteration()
            save_if_due(self)
            yield metrics

    def train_iteration(self) -> dict[str, float]:
        """One rollout and its update epochs; returns the iteration's metrics."""
        config = self.config
        if config.anneal_lr:
            remaining = 1 - self.iteration / max(config.iterations, 1)
            self.optimizer.param_groups[0]["lr"] = remaining * config.learning_rate
        start = time.perf_counter()
        seed_generators((self.rollout_generator, self.shuffle_generator), config.seed, 2, self.iteration,
                        self.distributed.rank)  # fmt: skip
        rollout, episodes, next_value = self.collect()
        rollout_seconds = time.perf_counter() - start
        start = time.perf_counter()
        advantages, returns = generalized_advantages(
            rollout.reward, rollout.value, rollout.terminated, rollout.truncated, rollout.final_value, next_value,
            config.gamma, config.gae_lambda,
        )  # fmt: skip
        update = self.update(rollout, advantages, returns)
        self.iteration += 1
        return {
            "iteration": self.iteration, **episodes, **update, "rollout_seconds": rollout_seconds,
            "update_seconds": time.perf_counter() - start,
        }  # fmt: skip

    def collect(self) -> tuple[Rollout, dict[str, float], torch.Tensor]:
        """``num_steps`` decisions in every slot; returns the rollout, episode statistics and the next state's value."""
        config, tau, noise = self.config, self.policy.config.tau_train, self.policy.config.commit_noise
        if self._obs is None:  # a resumed run starts new prompts, not the opening ones again
            seed = config.seed if self.iteration == 0 else iteration_seed(config.seed, 4, self.iteration)
            self._obs, _ = self.env.reset(seed=seed)
        obs = self._obs
        steps: dict[str, list[torch.Tensor]] = {field.name: [] for field in dataclasses.fields(Rollout)}
        returns, correct, nfe = [], [], []
        for _ in range(config.num_steps):
            features, condition = policy_inputs(obs, self.policy.config)
            mask = obs["action_mask"]
            with torch.no_grad():
                logits, value = self.agent(features, condition)
            action = sample_action(logits, mask, tau, generator=self.rollout_generator,
                                   fallback_to_highest_logit=config.policy_fallback, noise=noise)  # fmt: skip
            fallback = empty_sample_fallback(logits, obs, self.env.empty_action, config.policy_fallback)
            obs, reward, terminated, truncated, info = self.env.step(action)
            executed = info["committed"]  # what the env did (its empty-action rule included)
            final_value = torch.zeros_like(value)
            # A time limit (only with max_episode_steps): bootstrap from the finished episode's last state.
            if self.env.config.max_episode_steps is not None and bool(truncated.any()):
                with torch.no_grad():
                    final_value = self.agent(*policy_inputs(info["final_obs"], self.policy.config))[1]
            with torch.no_grad():
                old = log_prob(logits, executed, mask, tau, fallback, noise)
            for name, item in (("features", features), ("condition", condition), ("action_mask", mask),
                               ("action", executed), ("fallback", fallback), ("log_prob", old), ("value", value),
                               ("reward", reward.float()), ("terminated", terminated), ("truncated", truncated),
                               ("final_value", final_value)):  # fmt: skip
                steps[name].append(item)
            if "episode" in info:  # some episode ended (known on the host; a sync_free env sends it every step)
                ended = info["_episode"]
                returns.append(info["episode"]["r"][ended])
                correct.append(info["final_info"]["correct"][ended])
                nfe.append(info["final_info"]["nfe"][ended])
        self._obs = obs
        with torch.no_grad():
            next_value = self.agent(*policy_inputs(obs, self.policy.config))[1]
        rollout = Rollout(**{name: torch.stack(values) for name, values in steps.items()})
        episodes = {"episodes": float(sum(len(item) for item in returns)), "reward": math.nan, "accuracy": math.nan,
                    "nfe": math.nan}  # NaN: no episode ended in this rollout  # fmt: skip
        if returns:
            episodes.update(reward=torch.cat(returns).mean().item(), accuracy=torch.cat(correct).float().mean().item(),
                            nfe=torch.cat(nfe).float().mean().item())  # fmt: skip
        return rollout, episodes, next_value

    def update(self, rollout: Rollout, advantages: torch.Tensor, returns: torch.Tensor) -> dict[str, float]:
        """Clipped policy and value losses with an entropy bonus, over minibatches of stored steps."""
        config, tau, noise = self.config, self.policy.config.tau_train, self.policy.config.commit_noise
        flat = {name: getattr(rollout, name).flatten(0, 1) for name in ("features", "condition", "action_mask",
                                                                         "action", "fallback", "log_prob", "value")}
        advantages, returns = advantages.flatten(), returns.flatten()
        totals: dict[str, list[float]] = {key: [] for key in ("policy_loss", "value_loss", "entropy", "approx_kl",
                                                               "clip_fraction", "grad_norm")}  # fmt: skip
        self.model.train()
        for _ in range(config.update_epochs):
            order = torch.randperm(advantages.shape[0], generator=self.shuffle_generator).to(advantages.device)
            for batch in order.tensor_split(config.num_minibatches):  # always that many (DDP: same on every rank)
                logits, value = self.model(flat["features"][batch], flat["condition"][batch])
                mask = flat["action_mask"][batch]
                fallback = highest_logit(logits.detach(), mask) if config.policy_fallback else flat["fallback"][batch]
                new = log_prob(logits, flat["action"][batch], mask, tau, fallback, noise)
                batch_advantages = advantages[batch]
                if config.normalize_advantages and batch_advantages.numel() > 1:
                    batch_advantages = (batch_advantages - batch_advantages.mean()) / (batch_advantages.std() + 1e-8)
                policy_loss = clipped_surrogate_loss(new, flat["log_prob"][batch], batch_advantages,
                                                     torch.ones_like(new), config.clip_coef)  # fmt: skip
                value_loss = clipped_value_loss(value, flat["value"][batch], returns[batch], config.clip_coef,
                                                config.clip_value_loss)  # fmt: skip
                bonus = entropy(logits, mask, tau, noise).mean()
                loss = policy_loss - config.entropy_coef * bonus + config.value_coef * value_loss
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()  # DDP averages the gradients across ranks here
                grad_norm = nn.utils.clip_grad_norm_(self.agent.parameters(), config.max_grad_norm)
                self.optimizer.step()
                with torch.no_grad():
                    log_ratio = new - flat["log_prob"][batch]
                    for key, value_ in (("policy_loss", policy_loss), ("value_loss", value_loss), ("entropy", bonus),
                                        ("approx_kl", ((log_ratio.exp() - 1) - log_ratio).mean()),
                                        ("clip_fraction", ((log_ratio.exp() - 1).abs() > config.clip_coef).float()
                                         .mean()), ("grad_norm", grad_norm)):  # fmt: skip
                        totals[key].append(float(value_))
        self.model.eval()
        return {**{key: float(np.mean(values)) for key, values in totals.items()},
                "learning_rate": self.optimizer.param_groups[0]["lr"]}  # fmt: skip

    def save(self, path: str | Path) -> Path:
        """Writes a checkpoint that ``load_policy`` reads (the policy) and ``PPOTrainer.resume`` continues from."""
        state = {
            "algo": "ppo",
            "config": json.dumps(self.config.to_dict()),
            "iteration": self.iteration,
            "value_head": {key: value.detach().cpu() for key, value in self.agent.value_head.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
        }  # no generator states: every iteration seeds its own (seed_generators), on every rank
        return save_checkpoint(path, self.policy, self.env_kwargs, trainer_state=state)

    @classmethod
    def resume(cls, path: str | Path, iterations: int | None = None, *, task: Any = None,
               model: Any = None, reward: Any = None) -> PPOTrainer:  # fmt: skip
        """A trainer with the parameters, optimiser and generators a checkpoint recorded.

        The env restarts its episodes (the rollouts in flight at the checkpoint are not saved), so a resumed run
        continues the learning but is not bit-identical to one never interrupted.
        """
        payload = read_checkpoint(path, need_trainer_state=True)
        state = payload["trainer_state"]
        if state.get("algo", "grpo") != "ppo":
            raise ValueError(f"{payload['path']} is a GRPO checkpoint; resume it with --algo grpo")
        config = restore_reward(PPOConfig(**json.loads(state["config"])), reward, payload["path"], cls.__name__)
        if iterations is not None:
            config = dataclasses.replace(config, iterations=iterations)
        # The checkpoint's weights replace any starting policy: resuming does not need init_policy any more.
        trainer = cls(dataclasses.replace(config, init_policy=None), PolicyConfig(**payload["policy_config"]),
                      task=task, model=model)  # fmt: skip
        trainer.config = config
        trainer.policy.load_state_dict(payload["state_dict"])
        trainer.agent.value_head.load_state_dict(state["value_head"])
        trainer.optimizer.load_state_dict(state["optimizer"])
        trainer.iteration = int(state["iteration"])
        return trainer
