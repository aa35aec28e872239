"""Per-episode sampling noise from counter-based hashing: a draw is a pure function of who draws it.

With ``temperature > 0`` the env samples each masked position's token. Drawing from one shared generator would
make a row's samples depend on how many rows ran before it, so instead every uniform is the hash of
``(seed, prompt_id, [group, episode_index], member, step, position)``: the reset seed, the episode's prompt id,
for an endless prompt stream its place in it (the prompt group, numbered across processes, and the group's
episode index: a prompt drawn again or given to several rows is another episode), its member index within its
prompt group (so GRPO's rollouts of one prompt differ), the step whose forward it samples, and the answer
position. A finite list's prompt ids are unique, so its key has no place words. The same episode therefore sees
the same noise at any ``num_envs``, next to any neighbours, in any finishing order, and two policies can be
compared on identical noise (common random numbers).

The hash is Chris Wellons' 32-bit "lowbias32" finalizer, chained over the key's 32-bit words; the arithmetic is
done in int64 with 16-bit multiplier halves so that nothing overflows and CPU and GPU agree bit for bit.
"""

from __future__ import annotations

import torch

_MASK32 = 0xFFFFFFFF
_MULTIPLIERS = (0x7FEB352D, 0x846CA68B)


def _multiply32(x: torch.Tensor, constant: int) -> torch.Tensor:
    """``x * constant mod 2**32`` for int64 ``x`` in [0, 2**32) without int64 overflow."""
    low, high = constant & 0xFFFF, constant >> 16
    return (x * low + (((x * high) & 0xFFFF) << 16)) & _MASK32


def hash32(x: torch.Tensor) -> torch.Tensor:
    """lowbias32 of int64 values in [0, 2**32): a well-mixed 32-bit hash, elementwise.

    Example:
        >>> hash32(torch.tensor([0, 1, 2])).tolist()
        [0, 1753845952, 3507691905]
    """
    x = x & _MASK32
    x = x ^ (x >> 16)
    x = _multiply32(x, _MULTIPLIERS[0])
    x = x ^ (x >> 15)
    x = _multiply32(x, _MULTIPLIERS[1])
    return x ^ (x >> 16)


def _mix(key: torch.Tensor, value: torch.Tensor | int) -> torch.Tensor:
    """Folds a 64-bit non-negative ``value`` into a 32-bit ``key``, one 32-bit word at a time."""
    # A Python int stays one (a kernel argument): turning it into a device tensor would be a blocking copy.
    key = hash32(key ^ (value & _MASK32))
    return hash32(key ^ ((value >> 32) & _MASK32))


def episode_uniforms(
    seed: int, prompt_id: torch.Tensor, member: torch.Tensor, step: torch.Tensor, length: int,
    draw: tuple[torch.Tensor, ...] = (),
) -> torch.Tensor:  # fmt: skip
    """(R, L) float32 uniforms in (0, 1), one per answer position of each of R rows.

    Args:
        seed: the reset seed (a non-negative int).
        prompt_id: (R,) int64, each row's prompt id, on the device the uniforms are wanted on.
        member: (R,) int64, each row's index within its prompt group.
        step: (R,) int64, each row's step (NFE so far).
        length: L.
        draw: (R,) int64 words that tell this episode from another of the same prompt: the env passes the
            prompt group (numbered across processes) and the group's episode index for an endless stream, so
            a prompt drawn again, or given to several rows, samples afresh; nothing for a finite list, whose
            prompt ids are already unique (keyed so, two policies meet the same noise on the same prompt).

    Example:
        >>> one = episode_uniforms(0, torch.tensor([7]), torch.tensor([0]), torch.tensor([3]), 4)
        >>> two = episode_uniforms(0, torch.tensor([5, 7]), torch.tensor([1, 0]), torch.tensor([0, 3]), 4)
        >>> torch.equal(one[0], two[1]), bool((one > 0).all() and (one < 1).all())
        (True, True)
    """
    key = _mix(torch.zeros_like(prompt_id), seed)
    for value in (prompt_id, *draw, member, step):
        key = _mix(key, value)
    positions = torch.arange(length, dtype=torch.int64, device=prompt_id.device)
    bits = hash32(key[:, None] ^ hash32(positions + 0x9E3779B9)[None, :])  # (R, L)
    return ((bits >> 8).float() + 0.5) / 2**24  # 24 bits: exactly representable in float32, never 0 or 1


def sample_tokens(log_probs: torch.Tensor, temperature: float, uniforms: torch.Tensor) -> torch.Tensor:
    """(R, L) tokens drawn from softmax(log_probs / temperature) by inverting the CDF at ``uniforms``.

    One uniform per position replaces Gumbel-max's (R, L, V) noise tensor; tokens of probability 0 are never drawn.

    Example:
        >>> log_probs = torch.log(torch.tensor([[[0.25, 0.0, 0.75]]]))
        >>> sample_tokens(log_probs, 1.0, torch.tensor([[0.2]])).tolist(), sample_tokens(
        ...     log_probs, 1.0, torch.tensor([[0.3]])).tolist()
        ([[0]], [[2]])
    """
    cdf = torch.softmax(log_probs / temperature, dim=-1).cumsum(-1)  # (R, L, V)
    target = uniforms[..., None] * cdf[..., -1:]  # (R, L, 1): scaled, so rounding in the cumsum never overshoots
    return (cdf < target).sum(-1).clamp_(max=log_probs.shape[-1] - 1)
