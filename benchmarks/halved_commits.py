"""Why beta 0.5 leaves decided Sudoku policies below the hull: what committing random halves costs.

At beta 0.5 a policy's commit probabilities are halved, so a policy that is sure of a set of cells commits a random
half of it per pass. On Sudoku in full diffusion that is dearer than the passes it adds. This measures it on the
bench's 1,000 distinct held-out prompts (the hull's heuristic runs come from the bench's cache):

- ``HalvedTopConfidence(m)``: each of the dLLM's m most confident selectable positions committed with probability
  1/2 (the most confident one when none is drawn), the random halves of the confidence order; and the same over
  every position above 0.9 confidence, what a policy that knew its beta could offer;
- the shipped per-alpha Sudoku policies of full diffusion at beta 0.5, with their own independent noise and with
  shared noise (one uniform per row: a halved probability then commits the whole offered set or only the
  fallback's top position).

Prints Markdown and writes benchmarks/results/halved_commits.json.

    python benchmarks/halved_commits.py     # about two minutes on one CPU core
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import torch

from unmask_gym.agents import LearnedPolicy, list_policies, load_policy
from unmask_gym.bench import held_out_parser
from unmask_gym.benchmarking import benchmark, hull_table, summary_rows
from unmask_gym.heuristics import select_top

ROOT = Path(__file__).parent.parent
RESULTS = Path(__file__).parent / "results"
TOP = (2, 4, 8)
SAFE = 0.9
"""The confidence above which the dLLM's Sudoku predictions are right in any subset (the last agent's offer)."""


class HalvedTopConfidence:
    """Commits each offered selectable position with probability 1/2 (the most confident one if none is drawn).

    Offered: the ``m`` most confident, or with ``above`` every one at or above that confidence.
    """

    def __init__(self, m: int | None = None, seed: int = 0, above: float | None = None) -> None:
        if (m is None) == (above is None):
            raise ValueError(f"offer the top m or the positions above a confidence, one of them; got m={m!r}, "
                             f"above={above!r}")  # fmt: skip
        self.m, self.above, self.seed = m, above, seed
        self.__name__ = f"half of the top {m}" if above is None else f"half of those above {above}"
        self.reseed()

    def reseed(self, seed: int | None = None) -> None:
        """Restarts the coin flips (``evaluate`` calls it, so that runs reproduce)."""
        self.generator = torch.Generator().manual_seed(self.seed if seed is None else seed)

    def __call__(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """The (N, L) bool action for a batched torch observation."""
        confidence, selectable = obs["confidence"], obs["action_mask"]
        rows = confidence.shape[0]
        if self.above is None:
            offered = select_top(confidence, selectable, torch.full((rows,), self.m, device=confidence.device))
        else:
            offered = selectable & (confidence >= self.above)
        coins = torch.rand(offered.shape, generator=self.generator).to(offered.device) < 0.5
        action = offered & coins
        return action | select_top(confidence, selectable, (~action.any(dim=1)).long())  # none drawn: the top one


def per_alpha_sudoku_policies() -> list[str]:
    """The shipped one-alpha Sudoku policies of full diffusion (the ones the bench runs at beta 0.5)."""
    return [name for name in list_policies() if name.startswith("sudoku-full-") and not name.endswith("-cond")]


def halved(name: str, noise: str) -> LearnedPolicy:
    """A shipped policy at beta 0.5 with the given commit noise (its network's weights untouched)."""
    policy = load_policy(name)
    network = copy.deepcopy(policy.network)
    network.config = dataclasses.replace(network.config, commit_noise=noise)
    return LearnedPolicy(network, policy.env_kwargs, beta=0.5, name=f"{name}, beta 0.5, {noise} noise")


def markdown(rows: list[dict[str, Any]]) -> str:
    """Each agent against the hull."""
    return hull_table(rows, {"agent": lambda r: r["name"]})


def main() -> None:
    """Runs every agent and writes the table."""
    parser = held_out_parser(__doc__.splitlines()[0], cache=ROOT / "bench" / "cache")
    args = parser.parse_args()
    torch.set_num_threads(1)
    agents: dict[str, Any] = {f"half of the dLLM's {m} most confident": HalvedTopConfidence(m) for m in TOP}
    agents[f"half of the dLLM's positions above {SAFE} confidence"] = HalvedTopConfidence(above=SAFE)
    for name in per_alpha_sudoku_policies():
        for noise in ("independent", "shared"):
            agents[f"{name} at beta 0.5, {noise} noise"] = halved(name, noise)
    report = benchmark(agents, task="sudoku", settings=("full",), episodes=args.episodes, cache_dir=args.cache).data
    rows = summary_rows(report, "full")
    print(markdown(rows))
    (RESULTS / "halved_commits.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
