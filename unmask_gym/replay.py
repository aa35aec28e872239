"""Text replay of one episode: which positions were committed at which step (makes the EOS trap visible)."""

from __future__ import annotations

from typing import Any

import torch
from gymnasium.vector import AutoresetMode

from unmask_gym.env import UnmaskVectorEnv
from unmask_gym.models.codec import decode_token

EOS_DISPLAY = "$"


def render_answer(tokens: list[int], model: Any) -> str:
    """The answer region as text: ``_`` masked, ``$`` end-of-sequence, characters otherwise."""
    out = []
    for token in tokens:
        if token in model.end_token_ids:
            out.append(EOS_DISPLAY)
        else:
            out.append(decode_token(model, token) or "?")
    return "".join(out)


def replay(policy: Any, task: Any = "permutation", seed: int = 0, prompt: str | None = None,
           **env_kwargs: Any) -> list[str]:  # fmt: skip
    """Runs ``policy`` on one held-out prompt (or ``prompt``) and returns the replay as lines of text.

    A given ``prompt`` is checked by the task's ``check_prompt`` (a ValueError says the format it expects).
    ``env_kwargs`` go to ``UnmaskVectorEnv``; the block length defaults to the task's, as in its env id.

    Example:
        >>> from unmask_gym.testing import CountingTask, FakeDiffusionLM
        >>> from unmask_gym.heuristics import top_k_confidence
        >>> lines = replay(top_k_confidence(k=2), task=CountingTask(4), model=FakeDiffusionLM(), prompt="3:789")
        >>> for line in lines[1:]:
        ...     print(line)
        step 1  78__  committed [0, 1]
        step 2  789$  committed [2, 3]
        completion '789'  correct  NFE 2
    """
    env = UnmaskVectorEnv(1, task=task, split="eval", autoreset_mode=AutoresetMode.DISABLED, **env_kwargs)
    if hasattr(policy, "check_compatible"):  # a learned network refuses observations it cannot read, before the reset
        policy.check_compatible(env)
    options = {"prompts": [prompt]} if prompt is not None else None
    obs, _ = env.reset(seed=seed, options=options)
    lines = [f"prompt {env._book.prompts[0]!r}  answer positions {env.answer_length}"]
    terminated = torch.zeros(1, dtype=torch.bool)
    while not terminated[0]:
        obs, _reward, terminated, _, info = env.step(policy(obs))
        committed = torch.nonzero(info["committed"][0]).flatten().tolist()
        text = render_answer(obs["tokens"][0].tolist(), env.model)
        lines.append(f"step {int(info['nfe'][0])}  {text}  committed {committed}")
    verdict = "correct" if bool(info["correct"][0]) else f"wrong (reference {info['reference'][0]!r})"
    lines.append(f"completion {info['completion'][0]!r}  {verdict}  NFE {int(info['nfe'][0])}")
    return lines
