"""GRPO for the unmasking policy (arXiv 2512.09106, Sec. 3.2), read top to bottom like CleanRL.

Each iteration: (1) reset the env with this iteration's seed, so each of its ``num_groups`` prompt groups plays
``group_size`` rollouts of one prompt (the env's ``group_size``), plus optionally one expert rollout per group
from a heuristic (expert steering, G + 1 rollouts); a trade-off-conditioned policy (``PolicyConfig.alpha_range``)
also draws one alpha per group, log-uniform over the range, which every member of the group reads and is scored
with, so the group baseline compares like with like; (2) advantage = reward - group mean (optionally / group std),
groups keyed by (group, ``episode_index``); (3) several epochs of PPO-style clipped updates (no KL term) on the
stored policy inputs, never the dLLM. Before the first iteration an optional imitation warm start fits the policy
to the heuristic's decisions. Every random draw comes from the trainer's own seeded generators and every
iteration's prompts from its seed, so ``GRPOTrainer.resume`` continues a run exactly as if never interrupted.

Shapes: S stored steps, E episodes, L answer positions.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from unmask_gym.distributed import Distributed
from unmask_gym.env import UnmaskVectorEnv
from unmask_gym.models import resolve_model_name
from unmask_gym.reward import REWARD_FORMULAS

from .distribution import bernoulli_kl, entropy, highest_logit, log_prob, most_likely_action, sample_action
from .experts import AlphaKeyedExpert, make_expert, observation_kwargs
from .loading import FINAL_POLICY_NAME, checkpoint_path, initialise_from, read_checkpoint, save_checkpoint
from .policy import LearnedPolicy, PolicyConfig, UnmaskingPolicy
from .rollout import Rollouts, collect

MDP_KEYS = ("task", "block_length", "answer_length", "max_nfe", "reward", "alpha", "empty_action", "temperature",
            "model")  # fmt: skip
"""The settings that define the MDP a policy is trained for: its ``env_kwargs``."""


def check_trainer_compile_step(compile_step: object, sync_free: bool) -> None:
    """Checks a trainer's ``compile_step``: a bool, True only with ``sync_free``.

    No CUDA-graph mode: a rollout keeps the step's tensors, which a CUDA graph's next step would overwrite.
    """
    if not isinstance(compile_step, bool) or (compile_step and not sync_free):
        raise ValueError(f"compile_step must be a bool and needs sync_free=True (it compiles the sync-free step), "
                         f"got compile_step={compile_step!r}, sync_free={sync_free!r}")  # fmt: skip


@dataclass
class GRPOConfig:
    """Everything a GRPO run needs (the ``unmask-gym train`` flags are these fields)."""

    task: str = "permutation"
    """Built-in task: addition, permutation, permutation-v0, statetracking, sudoku."""
    block_length: int | str | None = "task"  # unmask_gym.config.TASK_DEFAULT; a literal: train.py reads it by ast
    """Semi-AR block length; None: full diffusion; "task": the task's default (4 for the built-in tasks)."""
    alpha: float = 1.0
    """Compute exponent of the multiplicative reward (weight of the additive one); for a conditioned policy
    (``--alpha-range``), the alpha it serves by default after training."""
    reward: str = "multiplicative"
    """"multiplicative" (the paper's Eq.) or "additive"."""
    answer_length: int | None = None
    """L (default: the task's)."""
    max_nfe: int | None = None
    """NFE budget per episode (default: L)."""
    empty_action: str = "noop"
    """The env's ``empty_action`` ("noop" or "top_confidence"); it acts only without ``policy_fallback``."""
    policy_fallback: bool = True
    """In training too, an empty sample commits the highest-logit position, as at evaluation (so NFE <= L)."""
    temperature: float = 0.0
    """The dLLM's token sampling temperature (0: greedy)."""
    model: str | None = None
    """dLLM: a shipped name or a checkpoint path (default: the task's shipped model)."""
    iterations: int = 500
    """GRPO iterations (one batch of rollouts and its updates each)."""
    num_groups: int = 16
    """Prompts per iteration."""
    group_size: int = 8
    """Rollouts per prompt, G (the paper: 8)."""
    learning_rate: float = 3e-4
    """AdamW peak learning rate."""
    min_learning_rate_ratio: float = 0.1
    """The cosine schedule ends at this fraction of the peak."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    max_grad_norm: float = 1.0
    """Gradient-norm clip of every update."""
    update_epochs: int = 1
    """Passes over each batch of rollouts (one AdamW step per batch: the recipe study's better update on Sudoku)."""
    num_minibatches: int = 1
    """Minibatches per pass (of stored steps)."""
    clip_coef: float = 0.5
    """PPO ratio clip epsilon (the paper: 0.5)."""
    normalize_std: bool = False
    """Divide advantages by the group's reward std."""
    alpha_scaled_advantages: bool = False
    """Divide each episode's advantage by (1 + its alpha) ** ``alpha_scale_power``: a conditioned policy's groups then
    weigh alike whatever their alpha (the additive reward's spread grows with it), without ``normalize_std``'s
    blow-up of the tiny differences of a group that agrees on its score."""
    alpha_scale_power: float = 1.0
    """The power of ``alpha_scaled_advantages``' divisor: 1 weighs every alpha alike, 0.5 leaves the high alphas'
    groups more say (and 0 is no scaling)."""
    alpha_curriculum: float = 0.0
    """A conditioned policy's alpha range widens from its low end to the whole range (log scale) over this fraction
    of the iterations, so the policy learns to be right before the high alphas reward guessing; 0: the whole range
    from the first iteration."""
    train_betas: tuple[float, ...] = (1.0,)
    """Each prompt group samples with one of these scales of the commit probabilities, p' = beta * p (drawn
    uniformly per group and iteration; independent noise): a policy then learns to be right also where the
    evaluation knob beta < 1 halves its commits (the bench runs beta 0.5). Values in (0, 1]; (1,): the paper's."""
    train_beta_alphas: tuple[float, ...] = ()
    """One alpha per ``train_betas`` entry: that beta's groups are rewarded at it instead of ``alpha``, so a policy
    that reads its beta (``beta_input``) can serve another trade-off there, e.g. the accurate end at beta 0.5, where
    ``alpha``'s reward would buy speed with coin-flip commits. A one-alpha policy only; (): every group at ``alpha``."""
    train_only_beta: bool = False
    """Train only the weights that read beta (``beta_input``: its column of the first condition layer, and the
    ``beta_head``): at beta 1 both are multiplied by log2 1 = 0, so the policy there stays exactly the one it started
    from (``init_policy``), bit for bit, while the ``train_betas`` (all below 1) learn how to act at their beta."""
    length_normalized: bool = True
    """Each episode weighs 1 in the loss (its steps 1 / NFE each); False: every stored step weighs 1, so an episode
    counts as the sum of its steps' log-probabilities (REINFORCE's and Dr. GRPO's form)."""
    entropy_coef: float = 0.0
    """Weight of an entropy bonus (the mean entropy of a step's action distribution, ``distribution.entropy``:
    summed Bernoulli entropies, or the cut's under shared noise; episodes weighed as in the surrogate)."""
    entropy_decay: float = 0.0
    """The entropy bonus falls linearly from ``entropy_coef`` to 0 over this last fraction of the iterations (0 at
    the last update), so a policy kept undecided while it learns to read its alpha ends decided; 0: constant."""
    kl_coef: float = 0.0
    """Weight of a KL penalty to the reference policy: the policy as RL began (after any warm start), frozen."""
    expert: str = "fast_dllm_threshold:threshold=0.9"
    """The teacher of expert steering and the warm start: a heuristic spec or a trained policy; for the warm start of
    a conditioned policy also one per range of alpha, ``"SPEC@ALPHA | SPEC@ALPHA"`` (``agents/experts.py``: a
    group follows the last entry whose ALPHA is at most its alpha)."""
    expert_steering: bool = False
    """Add one expert rollout per group (G + 1), scored under the policy."""
    expert_block_length: int | str | None = "same"
    """The expert's block length: "same" as the policy's, None (full diffusion) or an int (the paper: 32)."""
    warm_start: bool = False
    """Imitate the expert before RL until held-out agreement reaches ``warm_start_agreement``."""
    warm_start_agreement: float = 0.9
    """Target fraction of held-out steps whose whole action (the policy's most likely one) equals the expert's."""
    warm_start_batches: int = 4
    """Env batches of expert episodes to imitate (one more is held out)."""
    warm_start_max_epochs: int = 100
    """Give up (with a warning) after this many passes over the imitation data."""
    warm_start_learning_rate: float = 1e-3
    """AdamW learning rate of the warm start."""
    warm_start_per_teacher: bool = False
    """With one teacher per range of alpha: each teacher's range gets an equal share of the warm start's prompt
    groups (log-uniform within it; ``AlphaKeyedExpert.alphas``), instead of a share as wide as its range on the
    log scale, so a teacher of a narrow range is learned from as many episodes as the others."""
    sync_free: bool = False
    """Roll out in ``sync_free`` envs (no host round trip in a step, or one overlapping the forward for text tasks;
    the same rollouts): for a GPU."""
    compile_step: bool = False
    """With ``sync_free`` and a task scored on the device: the rollout envs' step through ``torch.compile``
    (``compile_step=True``; the same rollouts within float rounding), for a GPU. Not ``"reduce-overhead"``: the
    rollout keeps the step's tensors, which a CUDA graph's next step would overwrite."""
    init_policy: str | None = None
    """Start from this trained policy's weights instead of a fresh network (a shipped name, a run folder or a
    checkpoint; ``loading.initialise_from``): the same features and network shape, and a conditioned run may start
    from a policy trained for one alpha. None: a fresh network seeded by ``seed``."""
    seed: int = 0
    """Seeds the prompts, the policy's sampling, minibatch order and the policy's initialisation."""
    device: str | None = None
    """Torch device (default: cuda if available, else cpu)."""
    out: str | None = None
    """Run folder: checkpoints/, policy.pt, metrics.csv (None: nothing written)."""
    checkpoint_every: int = 50
    """Checkpoint every this many iterations (and always after the last)."""

    def __post_init__(self) -> None:
        for name in ("iterations", "num_groups", "group_size", "update_epochs", "num_minibatches", "checkpoint_every",
                     "warm_start_batches", "warm_start_max_epochs"):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "iterations" else 1):
                raise ValueError(f"{name} must be an int >= {0 if name == 'iterations' else 1}, got {value!r}")
        check_trainer_compile_step(self.compile_step, self.sync_free)
        if self.empty_action == "error" and not self.policy_fallback:
            raise ValueError('empty_action="error" would stop training at the first empty sample; use "noop", '
                             '"top_confidence" or policy_fallback=True')  # fmt: skip
        if not 0 < self.clip_coef:
            raise ValueError(f"clip_coef must be > 0, got {self.clip_coef}")
        for name in ("entropy_coef", "kl_coef"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.alpha_scale_power <= 2.0:
            raise ValueError(f"alpha_scale_power must lie in [0, 2], got {self.alpha_scale_power!r}")
        if not 0.0 <= self.entropy_decay <= 1.0:
            raise ValueError(f"entropy_decay must be a fraction of the iterations in [0, 1], got "
                             f"{self.entropy_decay!r}")  # fmt: skip
        if not 0.0 <= self.alpha_curriculum <= 1.0:
            raise ValueError(f"alpha_curriculum must be a fraction of the iterations in [0, 1], got "
                             f"{self.alpha_curriculum!r}")  # fmt: skip
        betas = self.train_betas if isinstance(self.train_betas, list | tuple) else (self.train_betas,)
        try:  # the CLI gives strings, a checkpoint's JSON a list
            self.train_betas = tuple(float(beta) for beta in betas)
        except (TypeError, ValueError):
            raise ValueError(f"train_betas must be numbers in (0, 1], got {self.train_betas!r}") from None
        if not self.train_betas or not all(0.0 < beta <= 1.0 for beta in self.train_betas):
            raise ValueError(f"train_betas must be one or more numbers in (0, 1] (a beta above 1 would make some "
                             f"commits certain and their skips impossible), got {self.train_betas!r}")  # fmt: skip
        try:
            self.train_beta_alphas = tuple(float(alpha) for alpha in self.train_beta_alphas)
        except (TypeError, ValueError):
            raise ValueError(f"train_beta_alphas must be numbers > 0, got {self.train_beta_alphas!r}") from None
        # With one beta, alpha says it; unless beta 1 is frozen, where alpha is what the policy was trained for.
        if self.train_beta_alphas and (len(self.train_beta_alphas) != len(self.train_betas)
                                       or (len(set(self.train_betas)) < 2 and not self.train_only_beta)
                                       or not all(alpha > 0 for alpha in self.train_beta_alphas)):  # fmt: skip
            raise ValueError(f"train_beta_alphas must give one alpha > 0 per entry of train_betas, which needs two "
                             f"betas or more (with one, alpha says it) unless train_only_beta; got train_betas="
                             f"{self.train_betas}, train_beta_alphas={self.train_beta_alphas!r}")  # fmt: skip
        if self.train_only_beta and (1.0 in self.train_betas or self.warm_start):
            raise ValueError(f"train_only_beta trains how a policy acts below beta 1 and leaves it as it is at beta 1: "
                             f"it needs train_betas below 1 (a beta-1 group teaches that column nothing) and no "
                             f"warm_start (which trains every weight); got train_betas={self.train_betas}, "
                             f"warm_start={self.warm_start}")  # fmt: skip
        if self.num_minibatches > self.num_envs:  # every episode stores >= 1 step: S >= num_envs, never less
            raise ValueError(f"num_minibatches={self.num_minibatches} exceeds the {self.num_envs} rollouts of an "
                             f"iteration (num_groups x group_size), the fewest steps it can store; an empty "
                             f"minibatch would have nothing to learn from")  # fmt: skip

    @property
    def scales_commits(self) -> bool:
        """Whether some groups sample at a beta other than 1 (``train_betas``); else the paper's training exactly."""
        return self.train_betas != (1.0,)

    @property
    def num_envs(self) -> int:
        """Policy rollouts per iteration: num_groups * group_size."""
        return self.num_groups * self.group_size

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly fields (a callable reward by its name: ``reward_name``)."""
        return {**dataclasses.asdict(self), "reward": reward_name(self.reward)}


def reward_name(reward: Any) -> str:
    """A reward as checkpoints record it: its name, or ``"callable:module.qualname"`` for a function.

    Example:
        >>> reward_name("additive"), reward_name(len)
        ('additive', 'callable:builtins.len')
    """
    if isinstance(reward, str):
        return reward
    return f"callable:{getattr(reward, '__module__', '?')}.{getattr(reward, '__qualname__', type(reward).__name__)}"


def iteration_seed(seed: int, stream: int, iteration: int) -> int:
    """A reset seed for ``iteration`` of a run: a hash of (seed, stream, iteration), non-negative and 63-bit.

    Example:
        >>> iteration_seed(0, 0, 5) == iteration_seed(0, 0, 5) != iteration_seed(0, 1, 5)
        True
    """
    return int(np.random.SeedSequence([seed, stream, iteration]).generate_state(1)[0] >> 1)


def restore_reward(config: Any, reward: Any, path: Any, trainer: str) -> Any:
    """``config`` with its reward function given back: a checkpoint records a callable by name only.

    Raises:
        ValueError: the run was trained with a reward function and ``reward`` is None.
    """
    if not config.reward.startswith("callable:"):
        return config
    if reward is None:
        raise ValueError(f"{path} was trained with the reward function {config.reward[9:]}; pass it again: "
                         f"{trainer}.resume(path, reward=function)")  # fmt: skip
    return dataclasses.replace(config, reward=reward)


def save_if_due(trainer: Any) -> None:
    """Writes the run files a GRPO or PPO trainer owes at its iteration (main process, ``config.out`` set).

    A checkpoint every ``checkpoint_every`` iterations and after the last, and with the last also ``policy.pt``,
    what ``load_policy(out)`` reads (a run of 0 iterations: both, for the policy as it starts).
    """
    config = trainer.config
    if not (config.out and trainer.distributed.is_main):
        return
    if trainer.iteration % config.checkpoint_every == 0 or trainer.iteration == config.iterations:
        trainer.save(checkpoint_path(config.out, trainer.iteration))
        if trainer.iteration == config.iterations:
            save_checkpoint(Path(config.out) / FINAL_POLICY_NAME, trainer.policy, trainer.env_kwargs)


def seed_generators(generators: tuple[torch.Generator, ...], seed: int, stream: int, iteration: int,
                    rank: int) -> None:  # fmt: skip
    """Seeds each generator from a hash of (seed, stream, iteration, rank).

    Each rank samples its own actions and minibatch order, and an iteration's draws depend on nothing before it,
    so a resumed run (every rank, under torchrun) continues exactly as the run never interrupted; no generator
    state needs saving.
    """
    states = np.random.SeedSequence([seed, stream, iteration, rank]).generate_state(len(generators), np.uint64)
    for generator, state in zip(generators, states.tolist(), strict=True):
        generator.manual_seed(state >> 1)


def trained_env_kwargs(env: UnmaskVectorEnv, config: Any, task: Any = None, model: Any = None) -> dict[str, Any]:
    """The ``MDP_KEYS`` of a trainer's env, what its checkpoints record: a policy's ``env_kwargs``.

    ``task``/``model`` are the objects a trainer was given instead of names (an in-memory model has no name to load
    it by; its class name says what it was).
    """
    if model is not None:
        model_name = getattr(model, "name", type(model).__name__)
    else:
        model_name = config.model if config.model is not None else resolve_model_name(env.task)
    return {"task": config.task if task is None else env.task.name, "block_length": env.block_length,
            "answer_length": env.answer_length, "max_nfe": env.max_nfe, "reward": reward_name(env.reward),
            "alpha": env.alpha,
            "empty_action": env.empty_action, "temperature": env.temperature, "model": model_name}  # fmt: skip


def group_advantages(rewards: torch.Tensor, groups: torch.Tensor, normalize_std: bool = False) -> torch.Tensor:
    """GRPO's advantage: each reward minus its group's mean, optionally divided by the group's std (+ 1e-4).

    Example:
        >>> group_advantages(torch.tensor([1.0, 0.0, 0.5, 0.5]), torch.tensor([0, 0, 1, 1])).tolist()
        [0.5, -0.5, 0.0, 0.0]
    """
    count = torch.zeros(int(groups.max()) + 1, device=rewards.device).index_add_(0, groups, torch.ones_like(rewards))
    mean = torch.zeros_like(count).index_add_(0, groups, rewards) / count  # (groups,)
    advantages = rewards - mean[groups]
    if normalize_std:
        squares = torch.zeros_like(count).index_add_(0, groups, advantages**2)
        std = (squares / (count - 1).clamp(min=1)).sqrt()  # unbiased, as TRL's GRPO
        advantages = advantages / (std[groups] + 1e-4)
    return advantages


def step_weights(episode_nfe: torch.Tensor, length_normalized: bool = True) -> torch.Tensor:
    """(S,) each stored step's weight in the loss, from the NFE of its episode (S,).

    1 / NFE makes every episode weigh 1 whatever its length; without length normalisation every step weighs 1.

    Example:
        >>> step_weights(torch.tensor([2, 2, 4, 4, 4, 4])).tolist(), step_weights(torch.tensor([2, 4]), False).tolist()
        ([0.5, 0.5, 0.25, 0.25, 0.25, 0.25], [1.0, 1.0])
    """
    return 1.0 / episode_nfe.float() if length_normalized else torch.ones_like(episode_nfe, dtype=torch.float32)


def weighted_mean(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """sum_t w_t x_t / sum_t w_t: how the surrogate and the regularisers average their steps."""
    return (weights * values).sum() / weights.sum()


def clipped_surrogate_loss(new_log_prob: torch.Tensor, old_log_prob: torch.Tensor, advantages: torch.Tensor,
                           weights: torch.Tensor, clip_coef: float) -> torch.Tensor:  # fmt: skip
    """-sum_t w_t min(r_t A_t, clip(r_t, 1 - eps, 1 + eps) A_t) / sum_t w_t with r_t = exp(new - old) (PPO).

    ``weights`` are ``step_weights``: by default 1 / NFE of each step's episode, so every episode counts once
    whatever its length.

    Example:
        >>> new, old = torch.log(torch.tensor([2.0, 0.25])), torch.zeros(2)
        >>> clipped_surrogate_loss(new, old, torch.tensor([1.0, -1.0]), torch.ones(2), 0.5).item()  # -(1.5 - 0.5) / 2
        -0.5
    """
    ratio = (new_log_prob - old_log_prob).exp()
    surrogate = torch.minimum(ratio * advantages, ratio.clamp(1 - clip_coef, 1 + clip_coef) * advantages)
    return -weighted_mean(surrogate, weights)


def freeze_all_but_beta(policy: UnmaskingPolicy) -> list[torch.nn.Parameter]:
    """Leaves only what acts below beta 1 trainable (``train_only_beta``): the beta input's column and the beta head.

    Every other parameter stops requiring gradients, and a hook zeroes the gradient of the other columns of the
    weight that holds the beta column. Returns the trainable parameters.
    """
    config = policy.config
    if config.architecture == "plain":  # one embedding reads the features, then the conditions
        weight, columns = policy.embed.weight, config.input_columns + config.condition_columns
    else:
        weight, columns = policy.condition_embed[0].weight, config.condition_columns
    for parameter in policy.parameters():
        parameter.requires_grad_(False)
    weight.requires_grad_(True)
    mask = torch.zeros_like(weight)
    mask[:, columns.index("beta")] = 1.0
    weight.register_hook(lambda grad: grad * mask)
    head = [] if policy.beta_head is None else list(policy.beta_head.parameters())
    for parameter in head:
        parameter.requires_grad_(True)
    return [weight, *head]


class GRPOTrainer:
    """Holds the env(s), the policy, the optimiser and the generators of one run; ``run()`` yields metrics.

    Example:
        >>> from unmask_gym.testing import CountingTask, FakeDiffusionLM
        >>> config = GRPOConfig(iterations=2, num_groups=2, group_size=2, block_length=None, device="cpu")
        >>> trainer = GRPOTrainer(config, PolicyConfig(width=16), task=CountingTask(4), model=FakeDiffusionLM())
        >>> [round(metrics["iteration"]) for metrics in trainer.run()]
        [1, 2]
    """

    def __init__(self, config: GRPOConfig, policy_config: PolicyConfig | None = None, *, task: Any = None,
                 model: Any = None) -> None:  # fmt: skip
        """Builds everything from ``config``; ``task``/``model`` objects override ``config.task``/``config.model``."""
        self.config = config
        self.distributed = Distributed.from_environment(config.device)
        self._task, self._model = task, model
        policy_config = policy_config or PolicyConfig()
        if config.scales_commits and policy_config.commit_noise != "independent":
            raise ValueError(f"train_betas={config.train_betas} scale independent draws; got "
                             f"commit_noise={policy_config.commit_noise!r}")  # fmt: skip
        if config.kl_coef > 0 and policy_config.commit_noise != "independent":
            raise ValueError(f"kl_coef={config.kl_coef} needs commit_noise='independent' (its KL is exact per "
                             f"position); two shared-noise policies whose logits order the positions differently "
                             f"draw different sets, so their KL is unbounded: use entropy_coef to regularise instead, "
                             f"got commit_noise={policy_config.commit_noise!r}")  # fmt: skip
        self.observe_hidden = "hidden" in policy_config.features
        self.expert = make_expert(config.expert) if config.expert_steering or config.warm_start else None
        # A teacher may read more than the policy does (a schedule that reads the prompt); the policy ignores it.
        self.observation_kwargs = {} if self.expert is None else observation_kwargs(self.expert)
        self.env = self._make_env(config.block_length, config.group_size, config.num_envs, task, model)
        if isinstance(self.expert, AlphaKeyedExpert) and (config.expert_steering or policy_config.alpha_range is None):
            raise ValueError(f"experts keyed by alpha ({config.expert!r}) teach the warm start of a conditioned "
                             f"policy (alpha_range set), not expert steering nor a one-alpha policy")  # fmt: skip
        if config.warm_start_per_teacher and not (config.warm_start and isinstance(self.expert, AlphaKeyedExpert)):
            raise ValueError(f"warm_start_per_teacher shares a warm start's episodes among the teachers of an "
                             f"'SPEC@ALPHA | SPEC@ALPHA' expert; this run has warm_start={config.warm_start} and "
                             f"expert {config.expert!r}")  # fmt: skip
        self.expert_env = None
        if config.expert_steering:
            block = self.env.block_length if config.expert_block_length == "same" else config.expert_block_length
            self.expert_env = self._make_env(block, 1, config.num_groups, task, model)
        policy_config = policy_config.resolved_for(self.env, config.seed)
        if policy_config.conditioned:
            if callable(config.reward):
                raise ValueError("a conditioned policy needs a named reward ('multiplicative' or 'additive') to "
                                 "score each group at its own alpha, got a callable")  # fmt: skip
            policy_config.check_alpha(config.alpha)  # the default it will serve must be one it learns
        if config.train_beta_alphas and (policy_config.conditioned or not policy_config.beta_input
                                         or callable(config.reward)):  # fmt: skip
            raise ValueError(f"train_beta_alphas={config.train_beta_alphas} rewards each beta's groups at its own "
                             f"alpha: it needs a one-alpha policy that reads its beta (beta_input=True, no "
                             f"alpha_range) and a named reward; got beta_input={policy_config.beta_input}, "
                             f"alpha_range={policy_config.alpha_range}, reward={config.reward!r}")  # fmt: skip
        if config.train_only_beta and not policy_config.beta_input:
            raise ValueError("train_only_beta trains the weights that read beta: the policy needs beta_input=True")
        self.policy = UnmaskingPolicy(policy_config)
        if config.init_policy is not None:
            initialise_from(self.policy, config.init_policy)
        self.policy.to(self.env.device)
        trainable = freeze_all_but_beta(self.policy) if config.train_only_beta else None  # before DDP sees them
        self.model = self.distributed.wrap(self.policy)  # DDP under torchrun (gradients averaged), else the policy
        if trainable is not None:
            # No weight decay: AdamW's decay would shrink the frozen columns of the same matrix. Their gradients are
            # masked to 0, so their Adam moments stay 0 and so do their updates, exactly.
            self.optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate, weight_decay=0.0)
        else:
            self.optimizer = torch.optim.AdamW(self.policy.parameters(), lr=config.learning_rate,
                                               weight_decay=config.weight_decay)  # fmt: skip
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._cosine)
        self.rollout_generator = torch.Generator(device=self.env.device)
        self.shuffle_generator = torch.Generator()
        self.iteration = 0
        self.warm_start_result: dict[str, float] | None = None
        self.reference: UnmaskingPolicy | None = None  # kl_coef's anchor, frozen when RL begins

    @property
    def env_kwargs(self) -> dict[str, Any]:
        """The MDP settings the policy is trained for (``MDP_KEYS``), with the task's defaults resolved."""
        return trained_env_kwargs(self.env, self.config, self._task, self._model)

    def learned_policy(self, beta: float = 1.0, seed: int = 0, alpha: float | None = None) -> LearnedPolicy:
        """The current network as an ``obs -> action`` callable (shares the parameters)."""
        return LearnedPolicy(self.policy, self.env_kwargs, beta=beta, seed=seed, name=f"grpo:{self.config.task}",
                             alpha=alpha)  # fmt: skip

    def close(self) -> None:
        """Leaves the ``torchrun`` job once every rank is done (a no-op in one process); the trainer stays usable.

        The DDP wrapper holds the process group, so it goes first: the group is then freed, and gloo's threads joined,
        while Python is whole. Left to interpreter shutdown, that teardown can abort the process (SIGABRT).
        """
        self.model = self.policy
        self.distributed.close()

    def run(self) -> Iterator[dict[str, float]]:
        """Runs the remaining iterations (after the warm start, if asked), yielding each one's metrics."""
        if self.config.warm_start and self.warm_start_result is None:
            self.warm_start_result = self.imitation_warm_start()
        if self.config.kl_coef > 0 and self.reference is None:
            self.reference = self._frozen_copy()
        if self.config.iterations == 0:  # the warm start is the run
            save_if_due(self)
        while self.iteration < self.config.iterations:
            metrics = self.train_iteration()
            save_if_due(self)
            yield metrics

    def train_iteration(self) -> dict[str, float]:
        """One batch of group rollouts and its clipped updates; returns the iteration's metrics."""
        start = time.perf_counter()
        self.seed_generators(stream=2)
        rollouts = self.collect(self.iteration_seed(self.iteration))
        rollout_seconds = time.perf_counter() - start
        start = time.perf_counter()
        update = self.update(rollouts)
        self.iteration += 1
        policy_rows = ~rollouts.is_expert
        metrics = {
            "iteration": self.iteration,
            "reward": rollouts.reward[policy_rows].mean().item(),
            "accuracy": rollouts.correct[policy_rows].float().mean().item(),
            "nfe": rollouts.nfe[policy_rows].float().mean().item(),
            "commits_per_step": (rollouts.action.sum() / rollouts.num_steps).item(),
            "stored_steps": rollouts.num_steps,
            **update,
            "rollout_seconds": rollout_seconds,
            "update_seconds": time.perf_counter() - start,
        }
        if self.expert_env is not None:
            metrics["expert_reward"] = rollouts.reward[rollouts.is_expert].mean().item()
        return metrics

    def collect(self, seed: int) -> Rollouts:
        """The iteration's rollouts: G per prompt group from the policy, plus the expert's one if steering."""
        tau, noise = self.policy.config.tau_train, self.policy.config.commit_noise

        group_beta, beta_alpha = self.group_betas(seed), self.group_beta_alphas(seed)
        row_beta = self._per_member(group_beta)
        scale = 1.0 if row_beta is None else row_beta[:, None]

        def sample(obs: dict[str, torch.Tensor], logits: torch.Tensor) -> torch.Tensor:
            return sample_action(logits, obs["action_mask"], tau, scale, generator=self.rollout_generator,
                                 fallback_to_highest_logit=self.config.policy_fallback, noise=noise)  # fmt: skip

        group_alpha = self.group_alphas(seed, self.curriculum_progress())  # what a conditioned network reads
        rollouts = collect(self.env, self.policy, seed, sample, self.config.policy_fallback,
                           alpha=self._per_member(group_alpha), beta=row_beta)  # fmt: skip
        if self.expert_env is not None:
            # Same seed, so expert row g gets prompt group g's prompt (group g draws from seed + g in both envs).
            expert = collect(self.expert_env, self.policy, seed, self._expert_choice, self.config.policy_fallback,
                             is_expert=True, alpha=group_alpha)  # fmt: skip
            if not torch.equal(expert.prompt_id, rollouts.prompt_id[:: self.config.group_size]):
                raise RuntimeError("expert and policy rollouts got different prompts; both envs must share the task")
            rollouts = rollouts.cat(expert)
        reward_alpha = group_alpha if beta_alpha is None else beta_alpha
        if reward_alpha is not None:  # each episode scored at its group's alpha (the env scored it at config.alpha)
            row_alpha = self._per_member(reward_alpha)
            if self.expert_env is not None:
                row_alpha = torch.cat([row_alpha, reward_alpha])
            reward = REWARD_FORMULAS[self.env.reward](rollouts.score, rollouts.nfe, self.env.answer_length, row_alpha)
            rollouts = dataclasses.replace(rollouts, reward=reward, alpha=row_alpha)
        return rollouts

    def group_alphas(self, seed: int, progress: float = 1.0) -> torch.Tensor | None:
        """(num_groups,) the alphas of an iteration's prompt groups: log-uniform over ``alpha_range``, from ``seed``.

        ``progress`` in (0, 1] narrows the range to its low end's share of it on a log scale: ``[low, low *
        (high / low) ** progress]`` (1: the whole range). None for a policy that is not conditioned.
        """
        if not self.policy.config.conditioned:
            return None
        low, high = self.policy.config.alpha_range
        high = low * (high / low) ** progress
        uniform = torch.rand(self.config.num_groups, generator=torch.Generator().manual_seed(seed))
        return (low * (high / low) ** uniform).to(self.env.device)

    def group_betas(self, seed: int) -> torch.Tensor | None:
        """(num_groups,) each prompt group's ``train_betas`` draw for the iteration of ``seed``; None when it is 1."""
        if not self.config.scales_commits:
            return None  # the paper's training, drawn exactly as before train_betas existed
        return torch.tensor(self.config.train_betas)[self._beta_pick(seed)].to(self.env.device)

    def group_beta_alphas(self, seed: int) -> torch.Tensor | None:
        """(num_groups,) each prompt group's alpha under ``train_beta_alphas`` (its beta's); None without them."""
        if not self.config.train_beta_alphas:
            return None
        return torch.tensor(self.config.train_beta_alphas)[self._beta_pick(seed)].to(self.env.device)

    def _beta_pick(self, seed: int) -> torch.Tensor:
        """(num_groups,) int64: which ``train_betas`` entry each group of the iteration of ``seed`` draws."""
        generator = torch.Generator().manual_seed(seed + 1)
        return torch.randint(len(self.config.train_betas), (self.config.num_groups,), generator=generator)

    def curriculum_progress(self) -> float:
        """How far ``alpha_curriculum`` has widened the alpha range at the current iteration, in (0, 1]."""
        span = self.config.alpha_curriculum * self.config.iterations
        return 1.0 if span <= 0 else min(1.0, (self.iteration + 1) / span)

    def entropy_weight(self) -> float:
        """The entropy bonus's weight at the current update: ``entropy_coef``, then down to 0 (``entropy_decay``)."""
        span = self.config.entropy_decay * self.config.iterations
        if span <= 0:
            return self.config.entropy_coef
        remaining = self.config.iterations - 1 - self.iteration  # updates after this one
        return self.config.entropy_coef * min(1.0, max(0.0, remaining / span))

    def _per_member(self, group_values: torch.Tensor | None) -> torch.Tensor | None:
        """(num_envs,) each row's value of a per-group draw (alpha, beta): its group's, None where there is none."""
        return None if group_values is None else group_values.repeat_interleave(self.config.group_size)

    def episode_advantages(self, rollouts: Rollouts) -> torch.Tensor:
        """(E,) each episode's advantage: its reward minus its group's mean (GRPO), then the config's scalings."""
        keys = {key: index for index, key in enumerate(dict.fromkeys(rollouts.group_key))}
        groups = torch.tensor([keys[key] for key in rollouts.group_key], device=rollouts.reward.device)
        advantages = group_advantages(rollouts.reward, groups, self.config.normalize_std)
        if self.config.alpha_scaled_advantages:
            advantages = advantages / (1.0 + rollouts.alpha) ** self.config.alpha_scale_power
        return advantages

    def update(self, rollouts: Rollouts) -> dict[str, float]:
        """Clipped policy-gradient epochs over the stored steps (no dLLM call); returns loss statistics."""
        config, tau, entropy_weight = self.config, self.policy.config.tau_train, self.entropy_weight()
        noise = self.policy.config.commit_noise
        advantages = self.episode_advantages(rollouts)[rollouts.episode]  # (S,)
        weights = step_weights(rollouts.nfe[rollouts.episode], config.length_normalized)  # (S,)
        step_beta = rollouts.beta[rollouts.episode] if config.scales_commits else None  # (S,)
        totals: dict[str, list[float]] = {"loss": [], "clip_fraction": [], "approx_kl": [], "entropy": [],
                                          "reference_kl": [], "grad_norm": []}  # fmt: skip
        # Every group agreed (all right or all wrong): nothing to learn, and an AdamW step would still move the
        # policy through its momentum and weight decay. Ranks skip together (DDP needs every rank's backward).
        learnable = self.distributed.mean(float(bool(advantages.abs().max() > 0))) > 0
        self.policy.train()
        for _ in range(config.update_epochs if learnable else 0):
            order = torch.randperm(rollouts.num_steps, generator=self.shuffle_generator).to(advantages.device)
            for batch in order.tensor_split(config.num_minibatches):  # always that many (DDP: same on every rank)
                logits = self.model(rollouts.features[batch], rollouts.condition[batch])
                mask = rollouts.action_mask[batch]
                # The policy's fallback is its current argmax, so the executed action's probability uses it.
                fallback = self._fallback(logits, mask, rollouts.fallback[batch])
                new = log_prob(logits, rollouts.action[batch], mask, tau, fallback, noise,
                               beta=None if step_beta is None else step_beta[batch])  # fmt: skip
                loss = clipped_surrogate_loss(new, rollouts.old_log_prob[batch], advantages[batch], weights[batch],
                                              config.clip_coef)  # fmt: skip
                step_entropy = entropy(logits, mask, tau, noise)  # (B,)
                if entropy_weight > 0:
                    loss = loss - entropy_weight * weighted_mean(step_entropy, weights[batch])
                reference_kl = torch.zeros_like(step_entropy)
                if config.kl_coef > 0:
                    with torch.no_grad():
                        reference_logits = self.reference(rollouts.features[batch], rollouts.condition[batch])
                    reference_kl = bernoulli_kl(logits, reference_logits, mask, tau)
                    loss = loss + config.kl_coef * weighted_mean(reference_kl, weights[batch])
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                grad_norm = torch.nn.utils.clip_grad_norm_(self.policy.parameters(), config.max_grad_norm)
                self.optimizer.step()
                with torch.no_grad():
                    log_ratio = new - rollouts.old_log_prob[batch]
                    totals["loss"].append(loss.item())
                    clipped = ((log_ratio.exp() - 1).abs() > config.clip_coef).float()
                    totals["clip_fraction"].append(clipped.mean().item())
                    totals["approx_kl"].append(((log_ratio.exp() - 1) - log_ratio).mean().item())
                    totals["entropy"].append(step_entropy.mean().item())
                    totals["reference_kl"].append(reference_kl.mean().item())
                    totals["grad_norm"].append(grad_norm.item())
        self.policy.eval()
        with warnings.catch_warnings():  # a skipped first update calls the scheduler before any optimizer step
            warnings.filterwarnings("ignore", r"Detected call of `lr_scheduler.step\(\)` before")
            self.scheduler.step()
        return {**{key: float(np.mean(values)) if values else 0.0 for key, values in totals.items()},
                "skipped_update": float(not learnable), "learning_rate": self.scheduler.get_last_lr()[0]}  # fmt: skip

    def imitation_warm_start(self) -> dict[str, float]:
        """Fits the policy to the expert's decisions: maximum likelihood of its actions on its own episodes.

        The likelihood is the per-position Bernoullis' (under either ``commit_noise``), fallback included, so a rule
        such as Fast-dLLM's "every position above the threshold, else the most confident one" is a threshold per
        position plus the fallback. Stops once the policy's most likely action (p > 1/2 per position, then the
        fallback) equals the expert's whole action on ``warm_start_agreement`` of the held-out steps (episodes of
        other prompts). Its result includes the seconds it took, which ``metrics.csv`` (one row per RL iteration)
        does not hold.
        """
        start = time.perf_counter()
        config, tau = self.config, self.policy.config.tau_train
        self.seed_generators(stream=3)
        seeds = [self.iteration_seed(index, stream=1) for index in range(config.warm_start_batches + 1)]

        def expert_episodes(seed: int) -> Rollouts:  # a conditioned policy learns the expert(s) at every alpha
            if config.warm_start_per_teacher:  # (a keyed expert, so a conditioned policy: checked at construction)
                uniform = torch.rand(config.num_groups, generator=torch.Generator().manual_seed(seed))
                group_alpha = self.expert.alphas(uniform, *self.policy.config.alpha_range).to(self.env.device)
            else:
                group_alpha = self.group_alphas(seed)
            alpha = self._per_member(group_alpha)
            choose = self._expert_choice
            if isinstance(self.expert, AlphaKeyedExpert):  # each group follows the teacher of its alpha
                choose = lambda obs, logits: self.expert(obs, alpha)  # noqa: E731
            return collect(self.env, self.policy, seed, choose, alpha=alpha)

        data = expert_episodes(seeds[0])
        for seed in seeds[1:-1]:
            data = data.cat(expert_episodes(seed))
        held_out = expert_episodes(seeds[-1])  # other prompts: unseen steps
        optimizer = torch.optim.AdamW(self.policy.parameters(), lr=config.warm_start_learning_rate)
        agreement, epoch = self._agreement(held_out), 0
        while agreement < config.warm_start_agreement and epoch < config.warm_start_max_epochs:
            epoch += 1
            self.policy.train()
            order = torch.randperm(data.num_steps, generator=self.shuffle_generator).to(data.action.device)
            count = self.distributed.minimum(math.ceil(data.num_steps / 64))  # every rank runs as many backwards
            for batch in order.tensor_split(count):  # minibatches of about 64 steps
                logits = self.model(data.features[batch], data.condition[batch])
                mask = data.action_mask[batch]
                fallback = self._fallback(logits, mask, data.fallback[batch])
                # Both noises share the per-position probabilities, so the warm start fits those (the independent
                # likelihood) either way: under shared noise an expert set out of logit order has only a floor.
                loss = -log_prob(logits, data.action[batch], mask, tau, fallback).mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.policy.parameters(), config.max_grad_norm)
                optimizer.step()
            self.policy.eval()
            agreement = self._agreement(held_out)
        if agreement < config.warm_start_agreement:
            warnings.warn(f"imitation warm start stopped at {agreement:.3f} held-out agreement after {epoch} "
                          f"epochs (target {config.warm_start_agreement})", stacklevel=2)  # fmt: skip
        return {"agreement": agreement, "epochs": epoch, "steps": data.num_steps, "held_out_steps": held_out.num_steps,
                "seconds": time.perf_counter() - start}  # fmt: skip

    def iteration_seed(self, iteration: int, stream: int = 0) -> int:
        """The reset seed of an iteration (stream 0: RL, 1: warm start): ``iteration_seed``."""
        return iteration_seed(self.config.seed, stream, iteration)

    def seed_generators(self, stream: int) -> None:
        """Seeds the action and minibatch generators from (seed, stream, iteration, rank): ``seed_generators``."""
        seed_generators((self.rollout_generator, self.shuffle_generator), self.config.seed, stream, self.iteration,
                        self.distributed.rank)  # fmt: skip

    def save(self, path: str | Path) -> Path:
        """Writes a checkpoint that ``load_policy`` reads and ``GRPOTrainer.resume`` continues from."""
        state = {
            "algo": "grpo",
            "config": json.dumps(self.config.to_dict()),
            "iteration": self.iteration,
            "warm_start": json.dumps(self.warm_start_result),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "reference": None if self.reference is None else self.reference.state_dict(),
        }  # no generator states: every iteration seeds its own (seed_generators), on every rank
        return save_checkpoint(path, self.policy, self.env_kwargs, trainer_state=state)

    @classmethod
    def resume(cls, path: str | Path, iterations: int | None = None, *, task: Any = None,
               model: Any = None, reward: Any = None) -> GRPOTrainer:  # fmt: skip
        """A trainer in the state a checkpoint (or a run folder's latest one) recorded.

        ``iterations`` extends (or shortens) the run, and the cosine schedule then spans the new length; everything
        else is the checkpoint's. A run trained with a reward function needs it again (``reward``).
        """
        payload = read_checkpoint(path, need_trainer_state=True)
        state = payload["trainer_state"]
        if state.get("algo", "grpo") != "grpo":
            raise ValueError(f"{payload['path']} is a {state['algo'].upper()} checkpoint; resume it with --algo "
                             f"{state['algo']}")  # fmt: skip
        config = restore_reward(GRPOConfig(**json.loads(state["config"])), reward, payload["path"], cls.__name__)
        if iterations is not None:
            config = dataclasses.replace(config, iterations=iterations)
        # The checkpoint's weights replace any starting policy: resuming does not need init_policy any more.
        trainer = cls(dataclasses.replace(config, init_policy=None), PolicyConfig(**payload["policy_config"]),
                      task=task, model=model)  # fmt: skip
        trainer.config = config
        trainer.policy.load_state_dict(payload["state_dict"])
        trainer.optimizer.load_state_dict(state["optimizer"])
        trainer.scheduler.load_state_dict(state["scheduler"])
        trainer.iteration = int(state["iteration"])
        trainer.warm_start_result = json.loads(state["warm_start"])
        if state.get("reference") is not None:
            trainer.reference = trainer._frozen_copy()
            trainer.reference.load_state_dict(state["reference"])
        return trainer

    def _cosine(self, step: int) -> float:
        """LambdaLR factor: cosine from 1 to ``min_learning_rate_ratio`` over the run's iterations."""
        low = self.config.min_learning_rate_ratio
        progress = min(step / max(self.config.iterations, 1), 1.0)
        return low + (1 - low) * 0.5 * (1 + math.cos(math.pi * progress))

    def _frozen_copy(self) -> UnmaskingPolicy:
        """The policy as it is now, in eval mode and without gradients (the KL penalty's reference)."""
        return copy.deepcopy(self.policy).eval().requires_grad_(False)

    def _expert_choice(self, obs: dict[str, torch.Tensor], logits: torch.Tensor) -> torch.Tensor:
        return self.expert(obs)

    def _fallback(self, logits: torch.Tensor, action_mask: torch.Tensor, recorded: torch.Tensor) -> torch.Tensor:
        """(B,) what an empty sample becomes: the policy's current highest logit, or the env's recorded fallback."""
        return highest_logit(logits.detach(), action_mask) if self.config.policy_fallback else recorded

    def _agreement(self, held_out: Rollouts) -> float:
        """Fraction of held-out steps whose most likely action equals the recorded one exactly."""
        with torch.no_grad():
            logits = self.policy(held_out.features, held_out.condition)
        fallback = self._fallback(logits, held_out.action_mask, held_out.fallback)
        chosen = most_likely_action(logits, held_out.action_mask, fallback)
        return self.distributed.mean((chosen == held_out.action).all(1).float().mean().item())  # ranks stop together

    def _make_env(self, block_length: Any, group_size: int, num_envs: int, task: Any, model: Any) -> UnmaskVectorEnv:
        config = self.config
        return UnmaskVectorEnv(
            num_envs, task=config.task if task is None else task, model=config.model if model is None else model,
            block_length=block_length, answer_length=config.answer_length, max_nfe=config.max_nfe,
            reward=config.reward, alpha=config.alpha, empty_action=config.empty_action,
            temperature=config.temperature, group_size=group_size, autoreset_mode=AutoresetMode.DISABLED,
            observe_hidden=self.observe_hidden, sync_free=config.sync_free, compile_step=config.compile_step,
            device=self.distributed.device,
            first_group=self.distributed.rank * config.num_groups,  # disjoint prompt streams across ranks
            **self.observation_kwargs,
        )  # fmt: skip
