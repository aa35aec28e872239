"""The policy's action distribution: an independent Bernoulli per selectable position.

With logits z (N, L) and temperature tau, position i is committed with probability p_i = sigmoid(z_i / tau),
independently, and only where ``action_mask`` is True (the env ignores the rest, so the policy never samples them).
At evaluation two things change: the test-time knob beta scales the probabilities, p'_i = min(1, beta * p_i), and
an empty sample commits the highest-logit selectable position instead, so a policy never wastes a pass.

Shapes: N rows (envs or stored steps), L answer positions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

NO_FALLBACK = -1
"""``fallback`` value of a row whose empty action commits nothing (the env's ``empty_action="noop"``)."""


def commit_probabilities(
    logits: torch.Tensor, action_mask: torch.Tensor, tau: float = 1.0, beta: float = 1.0
) -> torch.Tensor:
    """(N, L) float: p' = min(1, beta * sigmoid(logits / tau)) where selectable, 0 elsewhere.

    Example:
        >>> commit_probabilities(torch.tensor([[0.0, 0.0]]), torch.tensor([[True, False]]), beta=3.0).tolist()
        [[1.0, 0.0]]
    """
    probabilities = (beta * torch.sigmoid(logits.float() / tau)).clamp(max=1.0)
    return probabilities.masked_fill(~action_mask, 0.0)


def sample_action(
    logits: torch.Tensor,
    action_mask: torch.Tensor,
    tau: float = 1.0,
    beta: float = 1.0,
    generator: torch.Generator | None = None,
    fallback_to_highest_logit: bool = False,
) -> torch.Tensor:
    """(N, L) bool: one Bernoulli draw per selectable position, never outside ``action_mask``.

    Args:
        logits: (N, L) policy logits.
        action_mask: (N, L) bool, the selectable positions.
        tau: the sampling temperature (the paper: 1 in training).
        beta: the test-time scale of the probabilities.
        generator: the policy's own generator (on the logits' device), so that a seeded run reproduces.
        fallback_to_highest_logit: a row that drew nothing but has a selectable position commits its highest-logit
            one (evaluation).

    Example:
        >>> action_mask = torch.tensor([[True, True, False]])
        >>> sample_action(torch.tensor([[-30.0, -20.0, 30.0]]), action_mask, fallback_to_highest_logit=True)
        tensor([[False,  True, False]])
    """
    probabilities = commit_probabilities(logits, action_mask, tau, beta)  # (N, L)
    uniforms = torch.rand(probabilities.shape, generator=generator, device=probabilities.device)
    action = (uniforms < probabilities) & action_mask
    if fallback_to_highest_logit:
        empty = ~action.any(1) & action_mask.any(1)  # (N,)
        best = highest_logit(logits, action_mask)  # (N,)
        positions = torch.arange(action.shape[1], device=action.device)
        action = action | ((positions[None, :] == best[:, None]) & empty[:, None])  # no host sync
    return action


def most_likely_action(logits: torch.Tensor, action_mask: torch.Tensor, fallback: torch.Tensor) -> torch.Tensor:
    """(N, L) bool: the most likely outcome, p > 1/2 per selectable position, an empty one replaced by ``fallback``.

    ``fallback`` (N,) is a position per row, or ``NO_FALLBACK`` for rows whose empty action stays empty.

    Example:
        >>> most_likely_action(torch.tensor([[-1.0, -0.5], [2.0, -3.0]]), torch.ones(2, 2, dtype=torch.bool),
        ...                    torch.tensor([1, 1])).tolist()
        [[False, True], [True, False]]
    """
    chosen = (logits > 0) & action_mask
    positions = torch.arange(logits.shape[1], device=logits.device)
    lands = ~chosen.any(1) & (fallback >= 0)  # (N,)
    return chosen | ((positions[None, :] == fallback[:, None]) & lands[:, None] & action_mask)


def highest_logit(logits: torch.Tensor, action_mask: torch.Tensor) -> torch.Tensor:
    """(N,) int64: the selectable position with the highest logit (the first on ties; 0 if none is selectable)."""
    return logits.float().masked_fill(~action_mask, -torch.inf).argmax(1)


def env_fallback(confidence: torch.Tensor, action_mask: torch.Tensor, empty_action: str) -> torch.Tensor:
    """(N,) int64: what the env commits on an empty action, ``NO_FALLBACK`` for ``"noop"``.

    ``"top_confidence"`` commits the most confident selectable position, found exactly as the env finds it
    (``argmax`` of the confidence with unselectable positions at -1, so ties go to the first position).
    """
    if empty_action == "noop":
        return torch.full(confidence.shape[:1], NO_FALLBACK, dtype=torch.long, device=confidence.device)
    return confidence.masked_fill(~action_mask, -1.0).argmax(1)


def empty_sample_fallback(logits: torch.Tensor, obs: dict[str, torch.Tensor], empty_action: str,
                          policy_fallback: bool) -> torch.Tensor:  # fmt: skip
    """(N,) what an empty sample turns into at collection time.

    The policy's highest logit with ``policy_fallback``, else whatever the env's ``empty_action`` commits
    (``env_fallback``).
    """
    if policy_fallback:
        return highest_logit(logits, obs["action_mask"])
    return env_fallback(obs["confidence"], obs["action_mask"], empty_action)


def log_prob(
    logits: torch.Tensor,
    action: torch.Tensor,
    action_mask: torch.Tensor,
    tau: float = 1.0,
    fallback: torch.Tensor | None = None,
) -> torch.Tensor:
    """(N,) log-probability of the executed ``action`` under the sampling distribution (beta = 1).

    An executed action is the Bernoulli sample, except that an empty sample becomes ``{fallback}`` where the env
    has a fallback. So the executed action ``{j}`` with j the fallback has probability
    ``p_j prod_{i != j} (1 - p_i) + prod_i (1 - p_i) = prod_{i != j} (1 - p_i)``; every other action has its
    plain Bernoulli probability. Only selectable positions count.

    Args:
        logits: (N, L) policy logits (differentiable).
        action: (N, L) bool, what the env committed (``info["committed"]``).
        action_mask: (N, L) bool, the positions the policy could choose from.
        tau: the sampling temperature.
        fallback: (N,) int64 position an empty sample turns into, ``NO_FALLBACK`` where none (default: none).

    Example:
        >>> logits, mask = torch.tensor([[0.0, 0.0]]), torch.tensor([[True, True]])
        >>> round(log_prob(logits, torch.tensor([[True, False]]), mask).exp().item(), 4)  # 1/2 * 1/2
        0.25
        >>> fallback = torch.tensor([0])  # the empty sample also lands on position 0: 1/4 + 1/4
        >>> round(log_prob(logits, torch.tensor([[True, False]]), mask, fallback=fallback).exp().item(), 4)
        0.5
    """
    action = action & action_mask
    z = logits.float() / tau
    log_commit, log_skip = F.logsigmoid(z), F.logsigmoid(-z)  # log p, log (1 - p), stable for large |z|
    zero = torch.zeros_like(z)
    plain = torch.where(action, log_commit, log_skip).where(action_mask, zero).sum(1)  # (N,)
    if fallback is None:
        return plain
    position = fallback.clamp(min=0)[:, None]  # (N, 1)
    lands_on_fallback = (fallback >= 0) & (action.sum(1) == 1) & action.gather(1, position).squeeze(1)
    all_skip = log_skip.where(action_mask, zero).sum(1)
    with_fallback = all_skip - log_skip.gather(1, position).squeeze(1)  # prod over i != j of (1 - p_i)
    return torch.where(lands_on_fallback, with_fallback, plain)


def entropy(logits: torch.Tensor, action_mask: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """(N,) summed Bernoulli entropy over the selectable positions (nats; the empty-sample fallback ignored)."""
    z = logits.float() / tau
    p = torch.sigmoid(z)
    per_position = -(p * F.logsigmoid(z) + (1 - p) * F.logsigmoid(-z))
    return per_position.where(action_mask, torch.zeros_like(z)).sum(1)


def bernoulli_kl(logits: torch.Tensor, reference_logits: torch.Tensor, action_mask: torch.Tensor,
                 tau: float = 1.0) -> torch.Tensor:  # fmt: skip
    """(N,) KL(policy || reference) of the per-position Bernoullis, summed over the selectable positions (nats).

    Exact, not a sampled estimate: with p, q the two commit probabilities,
    ``p log(p / q) + (1 - p) log((1 - p) / (1 - q))`` (the empty-sample fallback ignored, as in ``entropy``).

    Example:
        >>> mask = torch.tensor([[True, True]])
        >>> bernoulli_kl(torch.tensor([[1.0, -2.0]]), torch.tensor([[1.0, -2.0]]), mask).item()
        0.0
        >>> round(bernoulli_kl(torch.tensor([[0.0, 5.0]]), torch.tensor([[0.0, 0.0]]), mask).item(), 4)
        0.653
    """
    z, r = logits.float() / tau, reference_logits.float() / tau
    p = torch.sigmoid(z)
    per_position = p * (F.logsigmoid(z) - F.logsigmoid(r)) + (1 - p) * (F.logsigmoid(-z) - F.logsigmoid(-r))
    return per_position.where(action_mask, torch.zeros_like(z)).sum(1)


def expected_commits(logits: torch.Tensor, action_mask: torch.Tensor, tau: float = 1.0, beta: float = 1.0,
                     fallback_to_highest_logit: bool = True) -> torch.Tensor:  # fmt: skip
    """(N,) expected number of positions committed: sum of p' plus, with the fallback, P(empty sample).

    Non-decreasing in beta: d/dq_j of ``sum q + prod (1 - q)`` is ``1 - prod_{i != j} (1 - q_i) >= 0``.
    """
    probabilities = commit_probabilities(logits, action_mask, tau, beta)
    expected = probabilities.sum(1)
    if fallback_to_highest_logit:
        empty = (1 - probabilities).where(action_mask, torch.ones_like(probabilities)).prod(1)
        expected = expected + empty * action_mask.any(1)
    return expected
