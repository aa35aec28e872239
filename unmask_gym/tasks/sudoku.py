"""Sudoku: complete a 4×4 Sudoku grid (the testbed family of the EB-sampler paper)."""

from __future__ import annotations

import itertools

import numpy as np
import torch

from unmask_gym.heuristics import select_top
from unmask_gym.tasks.base import SyntheticTask, token_values

SIZE = 4
BOXES = [[(r + dr) * SIZE + c + dc for dr in range(2) for dc in range(2)] for r in (0, 2) for c in (0, 2)]
UNITS = [list(range(r * SIZE, (r + 1) * SIZE)) for r in range(SIZE)] + [
    list(range(c, SIZE * SIZE, SIZE)) for c in range(SIZE)
] + BOXES  # fmt: skip


def _all_grids() -> list[str]:
    """The 288 valid 4×4 Sudoku grids, as 16-character strings of digits 1–4."""
    rows = ["".join(p) for p in itertools.permutations("1234")]
    grids = []
    for grid in itertools.product(rows, repeat=SIZE):
        cells = "".join(grid)
        if all(len({cells[i] for i in unit}) == SIZE for unit in UNITS):
            grids.append(cells)
    return grids


GRIDS = _all_grids()


class Sudoku(SyntheticTask):
    """Prompt: 16 cells in reading order, ``.`` for blanks (8 to 14 blanks), then ``=``; answer: the full grid.

    Every valid grid that keeps the givens is accepted: with many blanks several grids fit, and cells committed in
    the same pass can contradict each other.

    Example:
        >>> task = Sudoku()
        >>> task.score(["1234341221434321", "1234341221434312"], ["1234341221434321"] * 2).tolist()
        [1.0, 0.0]
    """

    name = "Sudoku"
    answer_length = 16
    max_prompt_length = 17
    train_steps = 3000
    prompt_format = (
        "16 cells of 1-4 or '.' (blank) in reading order, then '=', e.g. '1..4..1.2..3.4..=', with a solution"
    )
    prompt_pattern = r"[1-4.]{16}="

    def __init__(self, min_blanks: int = 8, max_blanks: int = 14) -> None:
        super().__init__()
        if not 1 <= min_blanks <= max_blanks <= 16:
            raise ValueError(f"need 1 <= min_blanks <= max_blanks <= 16, got {min_blanks}, {max_blanks}")
        self.min_blanks, self.max_blanks = min_blanks, max_blanks

    def _draw(self, generator: np.random.Generator) -> tuple[str, str]:
        grid = GRIDS[int(generator.integers(len(GRIDS)))]
        blanks = set(
            generator.choice(
                16, size=int(generator.integers(self.min_blanks, self.max_blanks + 1)), replace=False
            ).tolist()
        )
        prompt = "".join("." if i in blanks else cell for i, cell in enumerate(grid)) + "="
        return prompt, prompt.rstrip("=")

    def reference_for(self, prompt: str) -> str:
        """The puzzle itself (givens and blanks): any valid completion is right."""
        return prompt.rstrip("=")

    def _prompt_problem(self, prompt: str) -> str | None:
        if not any(all(p == "." or p == c for p, c in zip(prompt, grid, strict=False)) for grid in GRIDS):
            return "no valid grid keeps these givens"
        return None

    def reference_tokens(self, reference: object, width: int) -> list[int]:
        """The puzzle's ids (see ``SyntheticTask.reference_tokens``); a ValueError unless it is 16 of ``1-4.``."""
        if not (isinstance(reference, str) and len(reference) == 16 and set(reference) <= set("1234.")):
            raise ValueError(f"a Sudoku reference is the puzzle: 16 cells of 1-4 or '.', got {reference!r}")
        return super().reference_tokens(reference, width)

    def score_tokens(self, completions: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
        """``score`` on the device: (D, W) ids (-1 after the end) -> (D,): a valid grid that keeps every given."""
        if completions.shape[1] <= SIZE * SIZE:  # an answer of 16 cells needs W >= 17 (L >= 16)
            return torch.zeros(len(completions), device=completions.device)
        digits = {str(d): d for d in range(1, SIZE + 1)}
        grid = token_values(completions[:, : SIZE * SIZE], self.tokenizer, digits, 0)  # (D, 16), 0: not a digit
        given = token_values(references[:, : SIZE * SIZE], self.tokenizer, digits, 0)  # 0: a blank
        whole = (grid > 0).all(1) & (completions[:, SIZE * SIZE] < 0)  # 16 digits and nothing after them
        keeps = ((given == 0) | (given == grid)).all(1)
        cells = grid.view(-1, SIZE, SIZE)
        boxes = cells.view(-1, 2, 2, 2, 2).permute(0, 1, 3, 2, 4).reshape(-1, SIZE, SIZE)
        units = torch.cat([cells, cells.transpose(1, 2), boxes], 1)  # (D, 12, 4): rows, columns, boxes
        once = torch.nn.functional.one_hot((units - 1).clamp(min=0), SIZE).sum(2) == 1  # (D, 12, 4)
        return (whole & keeps & once.flatten(1).all(1)).float()

    def is_correct(self, completion: str, reference: str) -> bool:
        """A valid grid that keeps every given cell."""
        if len(completion) != 16 or any(c not in "1234" for c in completion):
            return False
        if any(given != "." and given != cell for given, cell in zip(reference, completion, strict=True)):
            return False
        return all(len({completion[i] for i in unit}) == SIZE for unit in UNITS)

    def solution(self, reference: str, generator: np.random.Generator) -> str:
        """A uniformly random valid grid among those that keep the givens."""
        fits = [g for g in GRIDS if all(p == "." or p == c for p, c in zip(reference, g, strict=True))]
        return fits[int(generator.integers(len(fits)))]


class RuleGuidedSchedule:
    """An unmasking schedule that knows the rules: the ceiling of what choosing positions can do with a dLLM.

    Each pass it takes the valid grid that keeps the givens and every committed cell and agrees with the most of
    the dLLM's current predictions, and commits exactly the predictions that agree with it (the most confident
    selectable position when none does). It writes only what the dLLM predicted, so what it reaches, a policy that
    chose the same positions would reach (``benchmarks/sudoku_schedule_ceiling.py``); it also teaches a policy
    that never sees the rules or the prompt (``--expert unmask_gym.tasks.sudoku:RuleGuidedSchedule``). It reads the
    prompt for the givens: ``observation_kwargs`` asks for ``observe_prompt``.
    """

    observation_kwargs = {"observe_prompt": True}  # what an env running this schedule must observe

    def __init__(self) -> None:
        tokenizer = Sudoku().tokenizer
        self.grids = torch.tensor([tokenizer.encode(grid) for grid in GRIDS])  # (G, 16) token ids
        self.blank = tokenizer.encode(".")[0]

    def __call__(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """The (N, L) bool action for batched torch observations with ``prompt_tokens``."""
        if "prompt_tokens" not in obs:
            raise ValueError("RuleGuidedSchedule reads the puzzle from obs['prompt_tokens']: build the env with "
                             "observe_prompt=True")  # fmt: skip
        cells = SIZE * SIZE
        masked, selectable = obs["masked"].bool(), obs["action_mask"].bool()
        givens = obs["prompt_tokens"][:, -cells - 1 : -1]  # (N, 16): the puzzle before "=", "." where blank
        fixed = torch.where(masked[:, :cells], givens, obs["tokens"][:, :cells])  # committed, given or blank
        grids = self.grids.to(fixed.device)
        possible = ((grids[None] == fixed[:, None]) | (fixed[:, None] == self.blank)).all(-1)  # (N, G)
        agreeing = ((grids[None] == obs["pred_token"][:, None, :cells]) & masked[:, None, :cells]).sum(-1)
        best = grids[agreeing.masked_fill(~possible, -1).argmax(1)]  # (N, 16)
        action = torch.zeros_like(selectable)
        action[:, :cells] = selectable[:, :cells] & (obs["pred_token"][:, :cells] == best) & possible.any(1)[:, None]
        stuck = ~action.any(1) & selectable.any(1)  # nothing agrees: the most confident position, as a heuristic would
        return action | select_top(obs["confidence"], selectable, stuck.long())

