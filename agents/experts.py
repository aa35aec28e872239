"""The teachers of the imitation warm start and of expert steering: one policy, or one per range of alpha.

A conditioned policy (``PolicyConfig.alpha_range``) serves many trade-offs, and no single teacher is good at all
of them: what pays at a low alpha (slow and sure) is not what pays at a high one. ``"SPEC@ALPHA | SPEC@ALPHA"``
names a teacher per range, so the warm start distils several specialists (heuristics or trained one-alpha
policies) into the one network, each where its alpha says it should act.
"""

from __future__ import annotations

from typing import Any

import torch

from unmask_gym.heuristics import as_batched_tensors, in_kind, policy_spec


class AlphaKeyedExpert:
    """Teachers by alpha: a row whose alpha is at least an entry's ALPHA (and below the next) follows its SPEC.

    Rows below the first ALPHA follow the first teacher. Every teacher sees the whole batch and each row keeps its
    own teacher's action, so one collect serves groups of every alpha.

    Example:
        >>> expert = AlphaKeyedExpert("top_k_confidence:k=1@0.1 | top_k_confidence:k=2@4")
        >>> selectable = torch.ones(2, 3, dtype=torch.bool)
        >>> obs = {"confidence": torch.tensor([[0.9, 0.5, 0.1]] * 2), "masked": selectable, "action_mask": selectable}
        >>> expert(obs, alpha=torch.tensor([1.0, 8.0])).tolist()
        [[True, False, False], [True, True, False]]
    """

    def __init__(self, spec: str) -> None:
        from .loading import policy_from_spec

        entries = keyed_entries(spec)
        self.thresholds = torch.tensor([threshold for threshold, _ in entries])
        self.specs = [name for _, name in entries]
        self.policies = [policy_from_spec(name)[0] for name in self.specs]

    def __call__(self, obs: dict[str, torch.Tensor], alpha: torch.Tensor) -> torch.Tensor:
        """(N, L) bool: each row's teacher's action; ``alpha`` (N,) is the alpha each row serves."""
        index = torch.searchsorted(self.thresholds.to(alpha.device), alpha.float(), right=True) - 1
        actions = torch.stack([torch.as_tensor(policy(obs)).bool() for policy in self.policies])  # (K, N, L)
        rows = torch.arange(actions.shape[1], device=actions.device)
        return actions[index.clamp(min=0).to(actions.device), rows]

    def alphas(self, uniform: torch.Tensor, low: float, high: float) -> torch.Tensor:
        """Alphas in [low, high] that give each teacher's range an equal share (``warm_start_per_teacher``).

        ``uniform`` (G,) in [0, 1) picks a range (its integer part over the K ranges) and a place in it
        (log-uniform, its fractional part). A range is a teacher's ALPHA to the next one's, clipped to [low, high];
        the first starts at ``low``, ranges outside [low, high] get no share.

        Example:
            >>> expert = AlphaKeyedExpert("top_k_confidence:k=1@0.1 | top_k_confidence:k=2@4")
            >>> expert.alphas(torch.tensor([0.0, 0.25, 0.5, 0.75]), low=1.0, high=16.0).tolist()
            [1.0, 2.0, 4.0, 8.0]
        """
        edges = torch.cat([self.thresholds[1:], torch.tensor([high])]).clamp(low, high)
        edges = torch.cat([torch.tensor([low]), edges]).double()
        starts, ends = edges[:-1], edges[1:]
        starts, ends = starts[ends > starts], ends[ends > starts]  # ranges inside [low, high]
        scaled = uniform.double() * len(starts)
        index = scaled.floor().long().clamp(max=len(starts) - 1)
        return (starts[index] * (ends[index] / starts[index]) ** (scaled - index)).float()


def keyed_entries(spec: str) -> list[tuple[float, str]]:
    """``"SPEC@ALPHA | SPEC@ALPHA"`` as (ALPHA, SPEC) pairs, checked: ALPHA > 0 and increasing.

    Example:
        >>> keyed_entries("eb_sampler:gamma=0.1@0.05 | sudoku-full-a8-ft@0.64")
        [(0.05, 'eb_sampler:gamma=0.1'), (0.64, 'sudoku-full-a8-ft')]
    """
    entries = []
    for part in spec.split("|"):
        name, separator, alpha = part.strip().rpartition("@")
        try:
            threshold = float(alpha)
        except ValueError:
            threshold = float("nan")
        if not separator or not name.strip() or not threshold > 0:
            raise ValueError(f"each alpha-keyed expert must be SPEC@ALPHA with ALPHA > 0 (entries separated by "
                             f"'|'), got {part.strip()!r} in {spec!r}")  # fmt: skip
        entries.append((threshold, name.strip()))
    thresholds = [threshold for threshold, _ in entries]
    if thresholds != sorted(set(thresholds)):
        raise ValueError(f"the experts' alphas must increase from entry to entry, got {thresholds} in {spec!r}")
    return entries


def expert_specs(spec: str) -> list[str]:
    """The teachers an ``--expert`` spec names: each SPEC of a keyed one, else the spec itself."""
    return [name for _, name in keyed_entries(spec)] if "@" in spec else [spec]


def observation_kwargs(expert: Any) -> dict[str, Any]:
    """The env arguments a teacher's observations need (``observe_prompt`` for a schedule that reads the prompt).

    A teacher names them in its ``observation_kwargs`` attribute; keyed teachers need what any of theirs does.

    Example:
        >>> observation_kwargs(AlphaKeyedExpert("top_k_confidence:k=1@0.1 | "
        ...                                     "unmask_gym.tasks.sudoku:RuleGuidedSchedule@4"))
        {'observe_prompt': True}
    """
    teachers = expert.policies if isinstance(expert, AlphaKeyedExpert) else [expert]
    return {key: value for teacher in teachers for key, value in getattr(teacher, "observation_kwargs", {}).items()}


class GiveUpElse:
    """``give_up``'s rule with another policy for the answers it keeps: the spec ``"give_up:uncertain=U else SPEC"``.

    A row with more than ``uncertain`` masked positions below ``threshold`` confidence commits everything it can
    this pass (``GiveUp.gives_up``); the others follow ``policy`` (a heuristic, a trained policy, an agent). In full
    diffusion that decides per prompt at its first pass: the hard prompts are answered at once, the others written
    the policy's way, a per-prompt mix of two behaviours (the heuristic hull's kind, with the dLLM's first picture
    choosing the prompts). ``reseed``, ``env_kwargs``, ``observation_kwargs`` and ``check_compatible`` are the
    policy's.

    Example:
        >>> rule = GiveUpElse.from_spec("give_up:uncertain=1 else top_k_confidence:k=1")
        >>> selectable = torch.ones(2, 3, dtype=torch.bool)
        >>> obs = {"confidence": torch.tensor([[0.95, 0.5, 0.5], [0.95, 0.99, 0.5]]), "masked": selectable,
        ...        "action_mask": selectable}
        >>> rule(obs).tolist()  # row 0 has 2 positions below 0.9: given up; row 1 has 1: top-1
        [[True, True, True], [False, True, False]]
    """

    SEPARATOR = " else "

    def __init__(self, rule: Any, policy: Any, name: str | None = None) -> None:
        self.rule, self.policy = rule, policy
        self.__name__ = name or f"{policy_spec(rule)}{self.SEPARATOR}{policy_spec(policy)}"

    @classmethod
    def from_spec(cls, spec: str) -> GiveUpElse:
        """``"give_up:... else SPEC"``; a ValueError when the part before ``else`` is not a ``give_up`` spec."""
        from unmask_gym.heuristics import GiveUp, make_policy

        from .loading import policy_from_spec

        rule_spec, _, follow = (part.strip() for part in spec.partition(cls.SEPARATOR))
        rule = make_policy(rule_spec) if rule_spec.partition(":")[0] == "give_up" else None
        if not isinstance(rule, GiveUp) or not follow:
            raise ValueError(f"'RULE else SPEC' takes a give_up spec as RULE and a policy spec after it, got {spec!r}")
        return cls(rule, policy_from_spec(follow)[0], name=f"{rule_spec}{cls.SEPARATOR}{follow}")

    @property
    def env_kwargs(self) -> dict[str, Any]:
        """The followed policy's training settings ({} for a heuristic)."""
        return dict(getattr(self.policy, "env_kwargs", {}) or {})

    @property
    def observation_kwargs(self) -> dict[str, Any]:
        """The env arguments the followed policy's observations need."""
        return dict(getattr(self.policy, "observation_kwargs", {}))

    def reseed(self, seed: int | None = None) -> None:
        """Restarts the followed policy's sampler, if it has one."""
        if hasattr(self.policy, "reseed"):
            self.policy.reseed(seed)

    def check_compatible(self, env: Any) -> None:
        """The followed policy's check, if it has one."""
        if hasattr(self.policy, "check_compatible"):
            self.policy.check_compatible(env)

    def __call__(self, obs: dict[str, Any]) -> Any:
        """The action for ``obs``, in its kind: everything selectable where the rule gives up, else the policy's."""
        tensors, was_numpy, single = as_batched_tensors(obs)
        kept = torch.as_tensor(self.policy(tensors)).bool()
        return in_kind(torch.where(self.rule.gives_up(tensors), tensors["action_mask"].bool(), kept), was_numpy, single)


def make_expert(spec: str) -> Any:
    """An ``AlphaKeyedExpert`` for a spec with ``@``, else the one policy.

    A policy is a heuristic spec, a trained policy or an importable agent, ``PKG.MODULE:NAME``.
    """
    from .loading import policy_from_spec

    return AlphaKeyedExpert(spec) if "@" in spec else policy_from_spec(spec)[0]
