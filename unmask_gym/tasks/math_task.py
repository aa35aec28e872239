r"""MATH (Hendrycks et al.) from a local file: competition problems whose solutions box their answer.

Records need ``problem`` and ``solution`` (the answer is the solution's last ``\boxed{}``; other fields, such as
MATH-500's ``answer``, are ignored). A completion is right when its final answer (the last ``\boxed{}``, else
the last number) is equivalent to the reference's: equal after normalisation, or equal by sympy.
"""

from __future__ import annotations

from unmask_gym.tasks.answers import extract_answer, last_boxed, math_equivalent
from unmask_gym.tasks.dataset_task import DatasetTask


class MATH(DatasetTask):
    r"""MATH prompts and verifier (see ``DatasetTask`` for the arguments).

    Example:
        >>> task = MATH.__new__(MATH)  # the verifier alone, without a file
        >>> task.is_correct(r"Adding gives \boxed{\dfrac{5}{6}}.", r"So the sum is $\boxed{\frac56}$.")
        True
        >>> task.is_correct(r"\boxed{6}", r"$\boxed{\frac{5}{6}}$")
        False
    """

    name = "MATH"
    question_field = "problem"
    solution_field = "solution"
    instruction = r"Please reason step by step, and put your final answer within \boxed{}."

    def is_correct(self, completion: str, reference: str) -> bool:
        """The completion's final answer is equivalent to the reference's boxed answer."""
        answer = last_boxed(reference)
        return math_equivalent(extract_answer(completion), reference if answer is None else answer)
