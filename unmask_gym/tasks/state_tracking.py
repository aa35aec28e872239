"""StateTracking: follow a ball under five cups through a sequence of swaps (the S5 word problem).

Composing permutations of five elements is the standard example of a computation that constant-depth
transformers cannot do in parallel (S5 is not solvable, unlike the running sums a model computes in one pass).
Written one position per step, each answer token only needs the previous one and one swap.
"""

from __future__ import annotations

import numpy as np
import torch

from unmask_gym.tasks.base import SyntheticTask, token_values

CUPS = 5
TARGET_CUP = 4
CUP_NAMES = ("01234", "abcde")  # two ways to write each cup: cup 3 is "3" or "d"


class StateTracking(SyntheticTask):
    """Prompt: ``num_swaps`` swaps as digit pairs (``"0132..."`` swaps cups 0,1 then 3,2 ...), then ``=``.

    The ball starts under cup 0. After each swap the answer writes the ball's cup, and it stops right after the
    ball first reaches cup 4 (or after the last swap). Each swap moves the ball to cup 4 with probability 1/10, so
    answers are 1 to ``num_swaps`` tokens long (with the defaults, 16 swaps: about 8 on average, in a 32-position
    buffer): most targets are the end-of-sequence padding, as in LLaDA's instruction tuning. Each cup may be written
    in either of two spellings (``names``: cup 3 is ``3`` or ``d``), the way a sentence can be phrased in several
    ways, so even a perfectly known answer token has confidence about 1/2, while the padding far from the answer is
    certain.

    Why it is hard: the answer's length is decided by the computation, which the model cannot finish in one pass,
    and EOS is the most confident prediction everywhere past the answers the model thinks likely. A confidence rule
    in full diffusion therefore commits EOS right to left, into positions where content belonged, and the answer
    is truncated: the EOS trap of LLaDA in full diffusion. Semi-AR blocks, or committing left to right, avoid it.

    Example:
        >>> task = StateTracking()
        >>> task.reference_for("011224" + "01" * 13 + "=")  # 0→1, 1→2, 2→4: stop
        '124'
        >>> task.score(["124", "bce", "1c4", "12", "1244"], ["124"] * 5).tolist()
        [1.0, 1.0, 1.0, 0.0, 0.0]
    """

    name = "StateTracking"
    train_steps = 5000

    def __init__(self, num_swaps: int = 16, answer_length: int = 32, names: tuple[str, ...] = CUP_NAMES) -> None:
        super().__init__()
        if not 1 <= num_swaps <= answer_length:
            raise ValueError(
                f"need 1 <= num_swaps <= answer_length (the longest answer must fit), got num_swaps={num_swaps}, "
                f"answer_length={answer_length}"
            )
        characters = "".join(names)
        if not names or any(len(spelling) != CUPS for spelling in names) or len(set(characters)) != len(characters):
            raise ValueError(f"names must be spellings of the {CUPS} cups with no character used twice, got {names!r}")
        self.tokenizer.encode(characters)  # raises if a spelling is not in the vocabulary
        self.names = tuple(names)
        self._cup_index = {character: cup for spelling in names for cup, character in enumerate(spelling)}
        self._cup_of = {character: str(cup) for character, cup in self._cup_index.items()}
        self.num_swaps = num_swaps
        self.answer_length = answer_length
        self.max_prompt_length = 2 * num_swaps + 1
        self.prompt_format = (
            f"{num_swaps} swaps as digit pairs of two different cups 0-4, then '=' ('0132...=' swaps cups 0 and 1, "
            f"then 3 and 2), e.g. {'0132' * (num_swaps // 2) + '01' * (num_swaps % 2) + '='!r}"
        )
        swaps = "|".join(f"{a}{b}" for a in range(CUPS) for b in range(CUPS) if a != b)
        self.prompt_pattern = f"(?:{swaps}){{{num_swaps}}}="

    def _draw(self, generator: np.random.Generator) -> tuple[str, str]:
        pairs = [generator.choice(CUPS, size=2, replace=False) for _ in range(self.num_swaps)]
        prompt = "".join(f"{a}{b}" for a, b in pairs) + "="
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

    def score_tokens(self, completions: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
        """``score`` on the device: (D, W) ids (-1 after the end) -> (D,): the right cups, and nothing after them."""
        written = torch.where(completions < 0, -1, token_values(completions, self.tokenizer, self._cup_index, -2))
        right = torch.where(references < 0, -1, token_values(references, self.tokenizer,
                                                             {str(cup): cup for cup in range(CUPS)}, -3))  # fmt: skip
        return (written == right).all(1).float()  # -3: a reference character no answer matches

    def is_correct(self, completion: str, reference: str) -> bool:
        """The right cups, each in any of its spellings, and nothing after them."""
        return len(completion) == len(reference) and all(
            self._cup_of.get(character) == cup for character, cup in zip(completion, reference, strict=True)
        )

    def solution(self, reference: str, generator: np.random.Generator) -> str:
        """The cups, each written in a spelling drawn uniformly."""
        spellings = generator.integers(len(self.names), size=len(reference))
        return "".join(self.names[s][int(cup)] for s, cup in zip(spellings, reference, strict=True))
