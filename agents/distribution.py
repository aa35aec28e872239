"""The policy's action distribution: a commit probability per selectable position, drawn with one of two noises.

With logits z (N, L) and temperature tau, position i is committed with probability p_i = sigmoid(z_i / tau), and
only where ``action_mask`` is True (the env ignores the rest, so the policy never samples them). The ``noise``
decides how the positions' draws relate; both have the same p_i per position:

- ``"independent"`` (the paper's): one uniform u_i per position, commit where u_i < p_i: a Bernoulli each. To
  commit all n positions at once the policy needs every p_i near 1 (p ** n), so a policy that keeps its
  probabilities undecided rarely writes many tokens in one pass.
- ``"shared"``: one uniform u per row, commit every position where u < p_i: a random threshold on the logits (z_i >
  tau * logit(u)). The committed set is always the k highest-logit positions, k random, and the whole answer goes in
  one pass with probability min_i p_i; the outcomes are the n + 1 cut points of the sorted probabilities.

At evaluation two things change: the test-time knob beta scales the probabilities, p'_i = min(1, beta * p_i), and
an empty sample commits the highest-logit selectable position instead, so a policy never wastes a pass.

Shapes: N rows (envs or stored steps), L answer positions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

NOISES = ("independent", "shared")
"""How a row's positions are drawn: a uniform each (Bernoulli), or one uniform for all (a threshold on the logits)."""

NO_FALLBACK = -1
"""``fallback`` value of a row whose empty action commits nothing (the env's ``empty_action="noop"``)."""


def commit_probabilities(
    logits: torch.Tensor, action_mask: torch.Tensor, tau: float = 1.0, beta: float | torch.Tensor = 1.0
) -> torch.Tensor:
    """(N, L) float: p' = min(1, beta * sigmoid(logits / tau)) where selectable, 0 elsewhere (beta: a number or (N, 1)).

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
    beta: float | torch.Tensor = 1.0,
    generator: torch.Generator | None = None,
    fallback_to_highest_logit: bool = False,
    noise: str = "independent",
) -> torch.Tensor:
    """(N, L) bool: a draw of every selectable position's commit, never outside ``action_mask``.

    Args:
        logits: (N, L) policy logits.
        action_mask: (N, L) bool, the selectable positions.
        tau: the sampling temperature (the paper: 1 in training).
        beta: the test-time scale of the probabilities: a number, or (N, 1) one per row.
        generator: the policy's own generator (on the logits' device), so that a seeded run reproduces.
        fallback_to_highest_logit: a row that drew nothing but has a selectable position commits its highest-logit
            one (evaluation).
        noise: ``"independent"`` (a uniform per position) or ``"shared"`` (one per row: the top-k by logit).

    Example:
        >>> action_mask = torch.tensor([[True, True, False]])
        >>> sample_action(torch.tensor([[-30.0, -20.0, 30.0]]), action_mask, fallback_to_highest_logit=True)
        tensor([[False,  True, False]])
    """
    probabilities = commit_probabilities(logits, action_mask, tau, beta)  # (N, L)
    shape = probabilities.shape if _is_independent(noise) else (probabilities.shape[0], 1)
    uniforms = torch.rand(shape, generator=generator, device=probabilities.device)
    action = (uniforms < probabilities) & action_mask
    if fallback_to_highest_logit:
        empty = ~action.any(1) & action_mask.any(1)  # (N,)
        best = highest_logit(logits, action_mask)  # (N,)
        positions = torch.arange(action.shape[1], device=action.device)
        action = action | ((positions[None, :] == best[:, None]) & empty[:, None])  # no host sync
    return action


def _is_independent(noise: str) -> bool:
    if noise not in NOISES:
        raise ValueError(f"noise must be one of {NOISES}, got {noise!r}")
    return noise == "independent"


def most_likely_action(logits: torch.Tensor, action_mask: torch.Tensor, fallback: torch.Tensor) -> torch.Tensor:
    """(N, L) bool: the median outcome, p > 1/2 per selectable position, an empty one replaced by ``fallback``.

    Under either noise: the most likely value of each position, and the set a shared uniform of 1/2 draws.

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
    noise: str = "independent",
    beta: torch.Tensor | None = None,
) -> torch.Tensor:
    """(N,) log-probability of the executed ``action`` under the sampling distribution (beta = 1 unless given).

    An executed action is the sample, except that an empty sample becomes ``{fallback}`` where the env has a
    fallback, so the executed ``{j}`` with j the fallback has P(sample = {j}) + P(empty sample). With independent
    noise that is ``p_j prod_{i != j} (1 - p_i) + prod_i (1 - p_i) = prod_{i != j} (1 - p_i)``, and every other
    action has its plain Bernoulli probability. With shared noise see ``shared_log_prob``. Only selectable
    positions count.

    Args:
        logits: (N, L) policy logits (differentiable).
        action: (N, L) bool, what the env committed (``info["committed"]``).
        action_mask: (N, L) bool, the positions the policy could choose from.
        tau: the sampling temperature.
        fallback: (N,) int64 position an empty sample turns into, ``NO_FALLBACK`` where none (default: none).
        noise: the noise the action was drawn with (``NOISES``).
        beta: (N,) each row's scale in (0, 1] of its commit probabilities, p' = beta * p (training at the test-time
            knob, ``GRPOConfig.train_betas``); independent noise only. None: beta 1.

    Example:
        >>> logits, mask = torch.tensor([[0.0, 0.0]]), torch.tensor([[True, True]])
        >>> round(log_prob(logits, torch.tensor([[True, False]]), mask).exp().item(), 4)  # 1/2 * 1/2
        0.25
        >>> fallback = torch.tensor([0])  # the empty sample also lands on position 0: 1/4 + 1/4
        >>> round(log_prob(logits, torch.tensor([[True, False]]), mask, fallback=fallback).exp().item(), 4)
        0.5
        >>> round(log_prob(logits, torch.tensor([[True, False]]), mask, beta=torch.tensor([0.5])).exp().item(), 4)
        0.1875
    """
    if not _is_independent(noise):
        if beta is not None:
            raise ValueError("beta scales independent draws only; shared noise's threshold has no beta form here")
        return shared_log_prob(logits, action, action_mask, tau, fallback)
    action = action & action_mask
    z = logits.float() / tau
    log_commit, log_skip = F.logsigmoid(z), F.logsigmoid(-z)  # log p, log (1 - p), stable for large |z|
    if beta is not None:  # log(beta p) and log(1 - beta p) = softplus(z + log(1 - beta)) - softplus(z), both stable
        log_beta = beta.float().log()[:, None]  # (N, 1)
        log_commit = log_commit + log_beta
        log_skip = F.softplus(z + torch.log1p(-beta.float())[:, None]) - F.softplus(z)
    zero = torch.zeros_like(z)
    plain = torch.where(action, log_commit, log_skip).where(action_mask, zero).sum(1)  # (N,)
    if fallback is None:
        return plain
    all_skip = log_skip.where(action_mask, zero).sum(1)
    with_fallback = all_skip - log_skip.gather(1, fallback.clamp(min=0)[:, None]).squeeze(1)  # prod_{i != j} (1 - p_i)
    return torch.where(lands_on_fallback(action, fallback), with_fallback, plain)


def lands_on_fallback(action: torch.Tensor, fallback: torch.Tensor) -> torch.Tensor:
    """(N,) bool: the executed ``action`` is exactly ``{fallback}``, what an empty sample also turns into."""
    position = fallback.clamp(min=0)[:, None]  # (N, 1)
    return (fallback >= 0) & (action.sum(1) == 1) & action.gather(1, position).squeeze(1)


SMALLEST_GAP = 1e-6
"""The least ``z_a - z_b`` a cut of the shared threshold is given (see ``shared_log_prob``)."""


def shared_log_prob(logits: torch.Tensor, action: torch.Tensor, action_mask: torch.Tensor, tau: float = 1.0,
                    fallback: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
    """(N,) log-probability of the executed ``action`` under shared noise (one uniform per row).

    The threshold draws the set S when it falls between S's weakest logit a = min_S z and the strongest logit left
    out b = max z outside S: P(S) = sigmoid(a) - sigmoid(b) = sigmoid(a) sigmoid(-b) (1 - e^(b - a)), computed in
    logs (a = +inf for the empty set, b = -inf for the full one). A set the logits' order cannot draw (a <= b: only
    off-policy, after an update reordered its positions) has its gap floored at ``SMALLEST_GAP``, so ratios and
    losses stay finite and the gradient still pushes a up and b down. The executed ``{j}`` of an empty sample adds
    P(empty) = sigmoid(-max z).

    Example:
        >>> logits, mask = torch.tensor([[0.0, -30.0]]), torch.tensor([[True, True]])
        >>> round(shared_log_prob(logits, torch.tensor([[True, False]]), mask).exp().item(), 4)  # 1/2 - 0
        0.5
        >>> round(shared_log_prob(logits, torch.tensor([[True, False]]), mask, fallback=torch.tensor([0])).exp()
        ...       .item(), 4)  # 1/2 + P(empty) = 1/2
        1.0
    """
    action = action & action_mask
    z = logits.float() / tau
    far = torch.finfo(z.dtype).max / 4  # finite stand-ins for +-inf: no nan in the gradient
    a = z.masked_fill(~action, far).amin(1)  # (N,) the weakest committed logit
    b = z.masked_fill(~action_mask | action, -far).amax(1)  # (N,) the strongest one left out
    gap = (a - b).clamp(min=SMALLEST_GAP)
    log_set = F.logsigmoid(a) + F.logsigmoid(-b) + torch.log(-torch.expm1(-gap))
    log_set = log_set.where(action_mask.any(1), torch.zeros_like(log_set))  # nothing selectable: P(empty) = 1
    if fallback is None:
        return log_set
    log_empty = F.logsigmoid(-z.masked_fill(~action_mask, -far).amax(1))  # (N,) the threshold above every logit
    return torch.where(lands_on_fallback(action, fallback), torch.logaddexp(log_set, log_empty), log_set)


def cut_probabilities(logits: torch.Tensor, action_mask: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """(N, L + 1) the shared threshold's outcomes: q_k = p_(k) - p_(k+1), the chance of committing the top k.

    p_(1) >= ... >= p_(L) are the sorted probabilities (unselectable ones 0), p_(0) = 1, p_(L+1) = 0.

    Example:
        >>> cut_probabilities(torch.tensor([[0.0, 30.0]]), torch.tensor([[True, True]])).tolist()
        [[0.0, 0.5, 0.5]]
    """
    sorted_p = commit_probabilities(logits, action_mask, tau).sort(1, descending=True).values  # (N, L)
    ones, zeros = torch.ones_like(sorted_p[:, :1]), torch.zeros_like(sorted_p[:, :1])
    return torch.cat([ones, sorted_p], 1) - torch.cat([sorted_p, zeros], 1)


def entropy(logits: torch.Tensor, action_mask: torch.Tensor, tau: float = 1.0, noise: str = "independent"
            ) -> torch.Tensor:  # fmt: skip
    """(N,) entropy of the action distribution (nats; the empty-sample fallback ignored).

    Independent noise: the summed Bernoulli entropies of the selectable positions. Shared noise: the entropy of
    the cut, ``-sum_k q_k log q_k`` over ``cut_probabilities`` (at most log(n + 1) for n selectable positions).
    """
    if not _is_independent(noise):
        q = cut_probabilities(logits, action_mask, tau)
        return -(q * q.clamp(min=1e-12).log()).sum(1)  # the clamp: a finite gradient where q_k = 0 (ties)
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
                     fallback_to_highest_logit: bool = True, noise: str = "independent") -> torch.Tensor:  # fmt: skip
    """(N,) expected number of positions committed: sum of p' plus, with the fallback, P(empty sample).

    P(empty) is ``prod (1 - p')`` with independent noise, ``1 - max p'`` with shared noise. Non-decreasing in beta
    under both: d/dq_j of ``sum q + prod (1 - q)`` is ``1 - prod_{i != j} (1 - q_i) >= 0``, and ``sum q - max q``
    never falls as the q rise.
    """
    probabilities = commit_probabilities(logits, action_mask, tau, beta)
    expected = probabilities.sum(1)
    if fallback_to_highest_logit:
        if _is_independent(noise):
            empty = (1 - probabilities).where(action_mask, torch.ones_like(probabilities)).prod(1)
        else:
            empty = 1 - probabilities.amax(1)
        expected = expected + empty * action_mask.any(1)
    return expected
