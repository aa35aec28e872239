r"""GSM8K from a local file: grade-school math word problems whose references end with ``#### <number>``.

The JSONL of the original release (fields ``question`` and ``answer``) works as is, as do parquet or Arrow files
of its ``datasets`` copy. A completion is right when its final answer (after ``####``, else the last
``\boxed{}``, else the last number) is the reference's number.
"""

from __future__ import annotations

from unmask_gym.tasks.answers import extract_answer, numbers_equal
from unmask_gym.tasks.dataset_task import DatasetTask


class GSM8K(DatasetTask):
    r"""GSM8K prompts and verifier (see ``DatasetTask`` for the arguments).

    Example:
        >>> task = GSM8K.__new__(GSM8K)  # the verifier alone, without a file
        >>> task.is_correct("48 / 2 = 24 in May, 48 + 24 = 72. #### 72", "... = 72 clips\n#### 72")
        True
        >>> task.is_correct("The answer is 71.", "#### 72")
        False
    """

    name = "GSM8K"
    question_field = "question"
    solution_field = "answer"
    instruction = "Solve it step by step, then write the final answer as a number after '####'."

    def is_correct(self, completion: str, reference: str) -> bool:
        """Same number as the reference's ``####`` answer."""
        return numbers_equal(extract_answer(completion), extract_answer(reference))
