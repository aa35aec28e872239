"""StateTracking: follow a ball under five cups through a sequence of swaps (the S5 word problem).

Composing permutations of five elements is the standard example of a computation that constant-depth
transformers cannot do in parallel (S5 is not solvable, unlike the running sums a model computes in one pass).
Written one position per step, each answer token only needs the previous one and one swap.
"""

from __future__ import annotations

import numpy as np

from unmask_gym.tasks.base import SyntheticTask

CUPS = 5
TARGET_CUP = 4


class StateTracking(SyntheticTask):
    """Prompt: 10 swaps as digit pairs (``"0132..."`` swaps cups 0,1 then 3,2 ...), then ``=``.

    The ball starts under cup 0. After each swap the answer writes the ball's cup, and it stops right after the
    ball first reaches cup 4 (or after the last swap). The answer's length is decided by the computation, so the
    end-of-sequence position is uncertain until the content before it is known: committing EOS early truncates.

    Example:
        >>> task = StateTracking()
        >>> task.reference_for("011224" + "01" * 7 + "=")  # 0→1, 1→2, 2→4: stop
        '124'
    """

    name = "StateTracking"
    answer_length = 16
    max_prompt_length = 21
    num_swaps = 10
    train_steps = 4000

    def _draw(self, generator: np.random.Generator) -> tuple[str, str]:
        swaps = []
        for _ in range(self.num_swaps):
            a, b = generator.choice(CUPS, size=2, replace=False)
            swaps.append(f"{a}{b}")
        prompt = "".join(swaps) + "="
        return prompt, self.reference_for(prompt)

    def reference_for(self, prompt: str) -> str:
        """The ball's cups after each swap, up to its first arrival under cup 4."""
        body = prompt.rstrip("=")
        ball, cups = 0, []
        for i in range(0, len(body), 2):
            a, b = int(body[i]), int(body[i + 1])
            ball = b if ball == a else a if ball == b else ball
            cups.append(str(ball))
            if ball == TARGET_CUP:
                break
        return "".join(cups)

    def is_correct(self, completion: str, reference: str) -> bool:
        """Exact match."""
        return completion == reference

    def solution(self, reference: str, generator: np.random.Generator) -> str:
        """The unique answer."""
        return reference
