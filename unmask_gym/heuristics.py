"""Confidence heuristics from the dLLM literature, as vectorized policies ``obs -> action``.

Each heuristic is a small callable that reads the observation's tensors (on their device, no loop over envs),
selects only positions inside ``action_mask``, and commits at least one position per sample that has one (the
paper's code applies that fallback batch-wide; we apply it per sample). Ties in a score go to the leftmost
position. ``make_policy("fast_dllm_threshold:threshold=0.9")`` builds one from its command-line spec.
A heuristic takes torch or numpy observations, batched (N, L) or a single env's (L,), and answers in kind.

Shapes: N envs, L answer positions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import torch

from unmask_gym.validation import check_choice, check_float, check_int

Observation = dict[str, torch.Tensor]


def select_top(scores: torch.Tensor, action_mask: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    """The ``count`` (N,) highest-scoring selectable positions per row, as an (N, L) bool action.

    Example:
        >>> select_top(torch.tensor([[0.1, 0.9, 0.5]]), torch.tensor([[True, False, True]]), torch.tensor([1]))
        tensor([[False, False,  True]])
    """
    masked_scores = scores.float().masked_fill(~action_mask, -math.inf)  # (N, L)
    order = masked_scores.argsort(dim=1, descending=True, stable=True)  # stable: ties go to the leftmost
    rank = torch.empty_like(order).scatter_(
        1, order, torch.arange(scores.shape[1], device=scores.device).expand_as(order)
    )
    return (rank < count[:, None]) & action_mask


def commit_above_threshold(obs: Observation, threshold: float | torch.Tensor) -> torch.Tensor:
    """Fast-dLLM's rule: each selectable position with confidence >= ``threshold``, and always the most confident.

    ``threshold`` is one number or one per row (N,).

    Example:
        >>> obs = {"confidence": torch.tensor([[0.2, 0.95, 0.5]] * 2), "action_mask": torch.ones(2, 3).bool()}
        >>> commit_above_threshold(obs, torch.tensor([0.9, 0.4])).tolist()
        [[False, True, False], [False, True, True]]
    """
    values, order, _ = _sorted_by_confidence(obs)
    if isinstance(threshold, torch.Tensor):
        threshold = threshold.to(values.device).reshape(-1, 1)  # (N, 1)
    take = values >= threshold  # a number stays a number: no host-to-device copy
    take[:, 0] = True  # the most confident position always goes
    return _from_sorted(order, take, obs["action_mask"])


def _sorted_by_confidence(obs: Observation) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Selectable confidences sorted high to low (N, L), their positions, and the selectable count (N,)."""
    confidence = obs["confidence"].float().masked_fill(~obs["action_mask"], -math.inf)
    values, order = confidence.sort(dim=1, descending=True, stable=True)
    return values, order, obs["action_mask"].sum(1)


def as_batched_tensors(obs: dict[str, Any]) -> tuple[Observation, bool, bool]:
    """``obs`` as batched torch tensors, and whether it came as numpy and unbatched (a single env's (L,) row).

    Example:
        >>> import numpy as np
        >>> tensors, was_numpy, was_single = as_batched_tensors({"masked": np.ones(3, dtype=np.int8)})
        >>> tensors["masked"].tolist(), was_numpy, was_single
        ([[True, True, True]], True, True)
    """
    was_numpy = not isinstance(obs["masked"], torch.Tensor)
    single = obs["masked"].ndim == 1
    tensors = {}
    for key, value in obs.items():
        if not isinstance(value, torch.Tensor):
            value = torch.as_tensor(value)
        if key in ("masked", "action_mask") and value.dtype != torch.bool:
            value = value.bool()
        tensors[key] = value.unsqueeze(0) if single else value
    return tensors, was_numpy, single


def in_kind(action: torch.Tensor, was_numpy: bool, single: bool) -> Any:
    """An (N, L) bool action back in the observation's kind: numpy when it came as numpy, (L,) when unbatched."""
    action = action[0] if single else action
    return action.numpy(force=True) if was_numpy else action


class Heuristic:
    """Base of the heuristics: converts any observation to batched tensors, calls ``act``, answers in kind."""

    def __call__(self, obs: dict[str, Any]) -> Any:
        """The action for ``obs`` (torch or numpy, (N, L) or (L,)), of the same kind."""
        tensors, was_numpy, single = as_batched_tensors(obs)
        return in_kind(self.act(tensors), was_numpy, single)

    def act(self, obs: Observation) -> torch.Tensor:
        """The (N, L) bool action for batched torch observations."""
        raise NotImplementedError


def _scores(obs: Observation, score: str) -> torch.Tensor:
    """(N, L) what ``TopK`` ranks by (higher first): the observation key, entropy negated, or renormalised."""
    if score == "entropy":
        return -obs["entropy"]
    if score == "renormalized_confidence":
        if "top_k_probs" not in obs:
            raise ValueError('score="renormalized_confidence" reads the top_k_probs observation: build the env with '
                             'top_k=K (Dream\'s default generation config: top_k=50)')  # fmt: skip
        probs = obs["top_k_probs"].float()  # (N, L, K), descending
        return probs[..., 0] / probs.sum(-1).clamp(min=torch.finfo(torch.float32).tiny)
    return obs[score]


def _from_sorted(order: torch.Tensor, take: torch.Tensor, action_mask: torch.Tensor) -> torch.Tensor:
    """Scatters a per-rank choice (N, L) in sorted order back to positions."""
    return torch.zeros_like(action_mask).scatter_(1, order, take) & action_mask


@dataclass
class TopK(Heuristic):
    """Commit the k selectable positions with the highest score each step.

    ``score`` is ``"confidence"`` (LLaDA's low-confidence remasking, Dream's maskgit_plus with ``top_k=None``),
    ``"renormalized_confidence"`` (the top token's probability renormalised over the observation's ``top_k``
    tokens: Dream's maskgit_plus as its default generation config runs it, ``top_k=50``; build the env with
    ``top_k=50``), ``"margin"`` (Dream's topk_margin) or ``"entropy"`` (Dream's entropy order, lowest first).
    LLaDA and Dream schedule how many tokens to commit per step; a fixed ``k`` is our approximation. Give ``steps``
    instead for their linear schedule: ``steps`` passes per block (LLaDA's ``steps / num_blocks``), each
    committing ``ceil(masked in block / passes left in block)``.
    """

    score: str = "confidence"
    k: int | None = 1
    steps: int | None = None

    def __post_init__(self) -> None:
        check_choice("score", self.score, ("confidence", "renormalized_confidence", "margin", "entropy"))
        if self.steps is not None:
            self.k = None
            check_int("steps", self.steps, 1)
        else:
            check_int("k", self.k, 1)

    def act(self, obs: Observation) -> torch.Tensor:
        """The (N, L) bool action for batched torch observations."""
        action_mask = obs["action_mask"]
        scores = _scores(obs, self.score)
        if self.steps is None:
            count = torch.full((action_mask.shape[0],), self.k, device=action_mask.device)
        else:
            count = self._linear_schedule(obs)
        return select_top(scores, action_mask, count)

    def _linear_schedule(self, obs: Observation) -> torch.Tensor:
        length = obs["masked"].shape[1]
        steps_taken = torch.round(obs["step_frac"][:, 0] * length).long()  # (N,)
        # Every earlier block used exactly `steps` passes: the schedule empties a block on its last pass.
        used_in_block = steps_taken - obs["block"].long() * self.steps
        left = (self.steps - used_in_block).clamp(min=1)
        return torch.ceil(obs["action_mask"].sum(1) / left).long().clamp(min=1)


@dataclass
class RandomK(Heuristic):
    """Commit k selectable positions chosen uniformly at random (seeded; the generator lives on the obs device)."""

    k: int = 1
    seed: int = 0
    _generator: torch.Generator | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        check_int("k", self.k, 1)

    def act(self, obs: Observation) -> torch.Tensor:
        """The (N, L) bool action for batched torch observations."""
        action_mask = obs["action_mask"]
        if self._generator is None or self._generator.device != action_mask.device:
            self._generator = torch.Generator(device=action_mask.device).manual_seed(self.seed)
        scores = torch.rand(action_mask.shape, generator=self._generator, device=action_mask.device)
        return select_top(scores, action_mask, torch.full_like(action_mask[:, 0], self.k, dtype=torch.long))


@dataclass
class LeftToRight(Heuristic):
    """Commit the k leftmost selectable positions (autoregressive order)."""

    k: int = 1

    def __post_init__(self) -> None:
        check_int("k", self.k, 1)

    def act(self, obs: Observation) -> torch.Tensor:
        """The (N, L) bool action for batched torch observations."""
        action_mask = obs["action_mask"]
        return action_mask & (action_mask.long().cumsum(1) <= self.k)


@dataclass
class FastDLLMThreshold(Heuristic):
    """Fast-dLLM's threshold rule (Wu et al. 2025).

    Every selectable position with confidence ≥ threshold, and always the most confident one.
    """

    threshold: float = 0.9

    def __post_init__(self) -> None:
        check_float("threshold", self.threshold, 0.0, 1.0)

    def act(self, obs: Observation) -> torch.Tensor:
        """The (N, L) bool action for batched torch observations."""
        return commit_above_threshold(obs, self.threshold)


@dataclass
class FastDLLMFactor(Heuristic):
    """Fast-dLLM's factor rule.

    With confidences sorted high to low, commit the longest prefix of n positions whose members all satisfy
    (n + 1)(1 − c_(n)) ≤ factor; at least one.

    As in Fast-dLLM's reference code (``get_transfer_index_dynamic``): the comparison is inclusive, equal
    confidences keep their left-to-right order, and when the first failing candidate is the *last* masked one it
    is committed anyway (the loop's exit treats it like a pass).
    """

    factor: float = 1.0

    def __post_init__(self) -> None:
        check_float("factor", self.factor, 0.0, math.inf, minimum_open=True)

    def act(self, obs: Observation) -> torch.Tensor:
        """The (N, L) bool action for batched torch observations."""
        values, order, available = _sorted_by_confidence(obs)
        rank = torch.arange(1, values.shape[1] + 1, device=values.device)  # n = 1 .. L
        passes = (rank + 1) * (1 - values) <= self.factor  # (N, L)
        passes[:, 0] = True
        count = passes.long().cumprod(1).sum(1)  # the passing prefix
        count = torch.where(count == available - 1, available, count)  # reference quirk at the last candidate
        take = rank[None, :] <= count[:, None]
        return _from_sorted(order, take, obs["action_mask"])


@dataclass
class EBSampler(Heuristic):
    """The entropy-bounded sampler (Ben-Hamu et al. 2025).

    In confidence order, the longest prefix U whose summed entropy minus its largest entropy is at most gamma
    (gamma = 0: one uncertain position per step, plus any zero-entropy ones).
    """

    gamma: float = 0.1

    def __post_init__(self) -> None:
        check_float("gamma", self.gamma, 0.0, math.inf)

    def act(self, obs: Observation) -> torch.Tensor:
        """The (N, L) bool action for batched torch observations."""
        values, order, _ = _sorted_by_confidence(obs)
        selectable = values > -math.inf
        entropy = obs["entropy"].float().gather(1, order).masked_fill(~selectable, 0.0)  # (N, L) in confidence order
        bound = entropy.cumsum(1) - entropy.cummax(1).values  # non-decreasing along the prefix
        take = (bound <= self.gamma) & selectable
        take[:, 0] = selectable[:, 0]
        return _from_sorted(order, take, obs["action_mask"])


@dataclass
class TokenMass(Heuristic):
    """Commit a token's most confident positions up to the number of them the dLLM expects to hold it.

    Among the selectable positions that predict the same token, the one of rank r (0: the most confident) is
    committed when r < scale × the token's mass (the sum of their confidences): so the most confident position of
    every predicted token, always, and more of them where the dLLM spreads a token over several positions. Unlike
    the confidence rules it reads *which* token each position predicts (only whether two are equal), so it does
    not commit two positions to the same token that the dLLM expects at one of them.
    """

    scale: float = 0.75

    def __post_init__(self) -> None:
        check_float("scale", self.scale, 0.0, math.inf, minimum_open=True)

    def act(self, obs: Observation) -> torch.Tensor:
        """The (N, L) bool action for batched torch observations."""
        agreement = token_agreement(obs)
        return obs["action_mask"].bool() & (agreement["token_rank"] < self.scale * agreement["token_mass"])


UNCERTAIN_BELOW = 0.9
"""The confidence below which ``GiveUp`` (and the policy feature ``uncertain``) counts a masked position as open."""


@dataclass
class GiveUp(Heuristic):
    """Answer at once when too much is uncertain, else ``TokenMass``: a rule for an additive compute cost.

    A row with more than ``uncertain`` masked positions below ``threshold`` confidence (the whole answer's, not only
    the current block's) commits every selectable position in this pass; any other row follows ``TokenMass(scale)``.
    The count only falls as an answer fills in, so in full diffusion it decides at the first pass: the prompts
    whose first prediction leaves many positions open (on Permutation, the long multisets, which take the most
    passes) are answered in one pass, mostly wrong, and the others written carefully; in blocks a given-up answer
    goes one pass per block while the count stays above ``uncertain``. Under the additive reward score − alpha · n /
    L that is the optimum between the alpha where a long answer stops paying for its passes and the one where every
    answer does: a teacher per range of alpha for a trade-off-conditioned policy's warm start
    (``agents/experts.py``; ``"give_up:uncertain=U else SPEC"`` follows another policy instead of ``TokenMass``).
    Not in the hull's grid.
    """

    uncertain: int = 8
    threshold: float = UNCERTAIN_BELOW
    scale: float = 0.75

    def __post_init__(self) -> None:
        check_int("uncertain", self.uncertain, 0)
        check_float("threshold", self.threshold, 0.0, 1.0)
        check_float("scale", self.scale, 0.0, math.inf, minimum_open=True)

    def gives_up(self, obs: Observation) -> torch.Tensor:
        """(N, 1) bool: the rows with more than ``uncertain`` masked positions below ``threshold`` confidence."""
        return (uncertain_positions(obs, self.threshold) > self.uncertain)[:, None]

    def act(self, obs: Observation) -> torch.Tensor:
        """The (N, L) bool action for batched torch observations."""
        return torch.where(self.gives_up(obs), obs["action_mask"].bool(), TokenMass(self.scale).act(obs))


def uncertain_positions(obs: dict[str, torch.Tensor], threshold: float = UNCERTAIN_BELOW) -> torch.Tensor:
    """(N,) int64: each row's masked positions below ``threshold`` confidence, the whole answer's (``GiveUp``'s count).

    Example:
        >>> obs = {"confidence": torch.tensor([[0.5, 0.95, 0.2, 1.0]]),
        ...        "masked": torch.tensor([[True, True, True, False]])}
        >>> uncertain_positions(obs).tolist()
        [2]
    """
    return ((obs["confidence"].float() < threshold) & obs["masked"].bool()).sum(1)


def token_agreement(obs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per selectable position: the selectable positions that predict its token, counted, weighed and ranked.

    Two positions committed in one pass with the same predicted token are where parallel decoding goes wrong (both
    take the most likely digit of a Permutation, the same digit twice in a Sudoku row); confidence alone cannot
    show it, because it says nothing about *which* token. Each number depends on token equality only, so it means
    the same with any vocabulary; each is / L, and 0 at positions not selectable. ``token_count``: the selectable
    positions (this one included) whose ``pred_token`` equals this one's. ``token_mass``: the sum of their
    confidences, the number of them the dLLM expects to hold that token. ``token_rank``: how many of them come
    before this one by confidence (descending, ties by position); 0 for the most confident of its token.

    Example:
        >>> obs = {"pred_token": torch.tensor([[7, 7, 5, 7]]), "action_mask": torch.tensor([[True, True, True, False]]),
        ...        "confidence": torch.tensor([[0.25, 0.5, 1.0, 1.0]])}
        >>> agreement = {name: (value * 4).tolist() for name, value in token_agreement(obs).items()}
        >>> agreement["token_count"], agreement["token_mass"], agreement["token_rank"]
        ([[2.0, 2.0, 1.0, 0.0]], [[0.75, 0.75, 1.0, 0.0]], [[1.0, 0.0, 0.0, 0.0]])
    """
    tokens, selectable, confidence = obs["pred_token"], obs["action_mask"].bool(), obs["confidence"].float()
    length = tokens.shape[-1]
    # same[n, i, j]: j is selectable and predicts i's token (O(N L^2) booleans: 16M at LLaDA's L = 256, N = 256)
    same = (tokens[:, :, None] == tokens[:, None, :]) & selectable[:, None, :]
    index = torch.arange(length, device=tokens.device)
    ahead = (confidence[:, None, :] > confidence[:, :, None]) | (
        (confidence[:, None, :] == confidence[:, :, None]) & (index[None, :] < index[:, None])
    )  # ahead[n, i, j]: j comes before i
    count = same.sum(-1).float() * selectable
    mass = (same * confidence[:, None, :]).sum(-1) * selectable
    rank = (same & ahead).sum(-1).float() * selectable
    return {"token_count": count / length, "token_mass": mass / length, "token_rank": rank / length}


def give_up(uncertain: int = 8, threshold: float = 0.9, scale: float = 0.75) -> GiveUp:
    """Every selectable position when more than ``uncertain`` are below ``threshold``, else ``token_mass``."""
    return GiveUp(uncertain, threshold, scale)


def top_k_confidence(k: int = 1, steps: int | None = None) -> TopK:
    """The k most confident positions per step (or LLaDA's linear schedule with ``steps`` passes per block)."""
    return TopK("confidence", k, steps)


def top_k_renormalized_confidence(k: int = 1, steps: int | None = None) -> TopK:
    """The k positions whose top token is most likely after renormalising over the env's ``top_k`` tokens.

    Dream's default sampler (maskgit_plus under its generation config's ``top_k=50``); needs an env built with
    ``top_k=50``.
    """
    return TopK("renormalized_confidence", k, steps)


def top_k_margin(k: int = 1, steps: int | None = None) -> TopK:
    """The k positions with the largest top-1/top-2 margin per step (Dream's topk_margin order)."""
    return TopK("margin", k, steps)


def top_k_entropy(k: int = 1, steps: int | None = None) -> TopK:
    """The k lowest-entropy positions per step (Dream's entropy order)."""
    return TopK("entropy", k, steps)


def random_k(k: int = 1, seed: int = 0) -> RandomK:
    """Commit k uniformly random selectable positions per step."""
    return RandomK(k, seed)


def left_to_right(k: int = 1) -> LeftToRight:
    """The k leftmost selectable positions per step."""
    return LeftToRight(k)


def fast_dllm_threshold(threshold: float = 0.9) -> FastDLLMThreshold:
    """Fast-dLLM's confidence-threshold rule."""
    return FastDLLMThreshold(threshold)


def fast_dllm_factor(factor: float = 1.0) -> FastDLLMFactor:
    """Fast-dLLM's factor rule."""
    return FastDLLMFactor(factor)


def eb_sampler(gamma: float = 0.1) -> EBSampler:
    """The entropy-bounded sampler."""
    return EBSampler(gamma)


def token_mass(scale: float = 0.75) -> TokenMass:
    """A token's most confident positions, up to scale × the number the dLLM expects to hold it."""
    return TokenMass(scale)


HEURISTICS: dict[str, Any] = {
    "random_k": random_k,
    "top_k_confidence": top_k_confidence,
    "top_k_renormalized_confidence": top_k_renormalized_confidence,
    "top_k_margin": top_k_margin,
    "top_k_entropy": top_k_entropy,
    "left_to_right": left_to_right,
    "fast_dllm_threshold": fast_dllm_threshold,
    "fast_dllm_factor": fast_dllm_factor,
    "eb_sampler": eb_sampler,
    "token_mass": token_mass,
    "give_up": give_up,
}
_PARAMETERS = {
    "random_k": {"k": int, "seed": int},
    "top_k_confidence": {"k": int, "steps": int},
    "top_k_renormalized_confidence": {"k": int, "steps": int},
    "top_k_margin": {"k": int, "steps": int},
    "top_k_entropy": {"k": int, "steps": int},
    "left_to_right": {"k": int},
    "fast_dllm_threshold": {"threshold": float},
    "fast_dllm_factor": {"factor": float},
    "eb_sampler": {"gamma": float},
    "token_mass": {"scale": float},
    "give_up": {"uncertain": int, "threshold": float, "scale": float},
}


def make_policy(spec: str) -> Any:
    """Builds a heuristic from ``"name"`` or ``"name:param=value,param=value"``.

    Raises:
        ValueError: for an unknown name or parameter (listing the valid ones) or an impossible value.

    Example:
        >>> make_policy("fast_dllm_threshold:threshold=0.9")
        FastDLLMThreshold(threshold=0.9)
        >>> make_policy("top_k_confidence:k=2").k
        2
    """
    name, _, arguments = spec.partition(":")
    if name not in HEURISTICS:
        raise ValueError(f"unknown policy {name!r}; valid policies are {sorted(HEURISTICS)}")
    valid = _PARAMETERS[name]
    kwargs: dict[str, Any] = {}
    for item in filter(None, arguments.split(",")):
        key, equals, value = item.partition("=")
        if key not in valid or not equals:
            raise ValueError(f"policy {name!r} has no parameter {key!r}; valid parameters are {sorted(valid)}")
        try:
            kwargs[key] = valid[key](value)
        except ValueError:
            raise ValueError(f"parameter {key!r} of {name!r} must be {valid[key].__name__}, got {value!r}") from None
    return HEURISTICS[name](**kwargs)


def policy_spec(policy: Any) -> str:
    """The ``make_policy`` spec of a heuristic (the class or function name for other callables).

    Example:
        >>> policy_spec(make_policy("eb_sampler:gamma=0.5"))
        'eb_sampler:gamma=0.5'
    """
    if isinstance(policy, TopK):
        name = f"top_k_{policy.score}"
    else:
        names = {RandomK: "random_k", LeftToRight: "left_to_right", FastDLLMThreshold: "fast_dllm_threshold",
                 FastDLLMFactor: "fast_dllm_factor", EBSampler: "eb_sampler", TokenMass: "token_mass",
                 GiveUp: "give_up"}  # fmt: skip
        if type(policy) not in names:
            return getattr(policy, "__name__", type(policy).__name__)
        name = names[type(policy)]
    values = {f.name: getattr(policy, f.name) for f in fields(policy) if f.init and f.name not in ("score", "seed")}
    shown = ",".join(f"{key}={value}" for key, value in values.items() if value is not None)
    return f"{name}:{shown}" if shown else name
