r"""Final answers of math word problems: extraction from texts and an equivalence check.

GSM8K references end with ``#### <number>``; MATH solutions put the answer in the last ``\boxed{...}``. A model's
completion is read the same way: a ``####`` answer, else the last ``\boxed{...}``, else the last number. Two
answers are equivalent when their normalised strings are equal or, failing that, when sympy proves the two
expressions equal (it decides only what it can parse; anything else is "not equivalent").
"""

from __future__ import annotations

import re

NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")


def last_boxed(text: str) -> str | None:
    r"""The content of the last ``\boxed{...}`` (or ``\fbox{...}``) in ``text``, braces balanced; None if none.

    Example:
        >>> last_boxed(r"so \boxed{1} then \boxed{\frac{1}{2}}.")
        '\\frac{1}{2}'
    """
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    index = text.index("{", start) + 1
    depth = 1
    for end in range(index, len(text)):
        depth += {"{": 1, "}": -1}.get(text[end], 0)
        if depth == 0:
            return text[index:end]
    return None


def extract_answer(text: str) -> str | None:
    r"""A completion's final answer: after the last ``####``, else the last ``\boxed{}``, else the last number.

    Example:
        >>> extract_answer("She sold 48 + 24 = 72 clips. #### 72")
        '72'
        >>> extract_answer("The total is 1,234 dollars.")
        '1234'
    """
    if "####" in text:
        tail = text.rsplit("####", 1)[1].strip()
        numbers = NUMBER.findall(tail)
        return numbers[0].replace(",", "") if numbers else (tail.split("\n")[0].strip() or None)
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed.strip()
    numbers = NUMBER.findall(text)
    return numbers[-1].replace(",", "").rstrip(".") if numbers else None


def numbers_equal(first: str | None, second: str | None) -> bool:
    """Whether two answers are the same number (``"72"``, ``"72.0"``, ``"$72"``); False if either is not one."""
    values = []
    for text in (first, second):
        cleaned = (text or "").replace(",", "").replace("$", "").strip().rstrip(".")
        try:
            values.append(float(cleaned))
        except ValueError:
            return False
    return abs(values[0] - values[1]) <= 1e-6 * max(1.0, abs(values[1]))


def normalize_math(answer: str) -> str:
    r"""A MATH answer with presentation removed (spaces, ``\left``, ``\dfrac``, units, ``$``, ``^\circ``, ...).

    ``0.5`` and ``.5`` agree; ``x=5`` becomes ``5``.

    Example:
        >>> normalize_math(r"\dfrac{1}{2}") == normalize_math(r"\frac12") == normalize_math(r"\frac{1}{2}")
        True
        >>> normalize_math(r"10\text{ inches}")
        '10'
    """
    text = answer.strip()
    text = re.sub(r"\\text\{\s*[a-zA-Z ]+\}\s*$", "", text)  # a trailing unit: 10\text{ inches}
    text = re.sub(r"\\(?:text|textbf|mbox|mathrm)\{([^{}]*)\}", r"\1", text)
    for old, new in (("\\left", ""), ("\\right", ""), ("\\!", ""), ("\\,", ""), ("\\;", ""), ("\\ ", ""),
                     ("dfrac", "frac"), ("tfrac", "frac"), ("^\\circ", ""), ("^{\\circ}", ""), ("\\%", ""),
                     ("%", ""), ("$", ""), (" ", "")):  # fmt: skip
        text = text.replace(old, new)
    text = text.rstrip(".")
    text = re.sub(r"\\frac(\d)(\d)", r"\\frac{\1}{\2}", text)  # \frac12 -> \frac{1}{2}
    text = re.sub(r"\\frac\{([^{}]*)\}(\d)", r"\\frac{\1}{\2}", text)
    text = re.sub(r"\\sqrt(\d)", r"\\sqrt{\1}", text)
    text = re.sub(r"^([a-zA-Z]\w*)=", "", text)  # "x=5" -> "5"
    text = re.sub(r"(?<![\d.])\.(\d)", r"0.\1", text)  # .5 -> 0.5
    return text


def latex_to_sympy(text: str) -> object | None:
    """A sympy expression for simple LaTeX (fractions, roots, powers, pi, products); None if it does not parse."""
    import sympy
    from sympy.parsing.sympy_parser import TokenError

    expression = text
    for _ in range(5):  # nested fractions and roots, innermost first
        expression = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", r"((\1)/(\2))", expression)
        expression = re.sub(r"\\sqrt\{([^{}]*)\}", r"sqrt(\1)", expression)
    expression = expression.replace("\\pi", "pi").replace("\\cdot", "*").replace("\\times", "*").replace("^", "**")
    expression = expression.replace("{", "(").replace("}", ")")
    if "\\" in expression or "=" in expression:
        return None
    from sympy.parsing.sympy_parser import implicit_multiplication_application, parse_expr, standard_transformations

    try:  # implicit products as written in LaTeX: 2sqrt(2), 3pi
        return parse_expr(expression, transformations=(*standard_transformations, implicit_multiplication_application))
    except (sympy.SympifyError, SyntaxError, TypeError, ValueError, AttributeError, TokenError):
        return None


def math_equivalent(completion_answer: str | None, reference_answer: str) -> bool:
    r"""MATH equivalence: equal normalised strings, else equal numbers, else a sympy proof that the difference is 0.

    Example:
        >>> math_equivalent(r"\dfrac{5}{6}", r"\frac{5}{6}"), math_equivalent("0.5", r"\frac{1}{2}")
        (True, True)
        >>> math_equivalent(r"2\sqrt{2}", r"\sqrt{8}"), math_equivalent("3", "4")
        (True, False)
    """
    if completion_answer is None:
        return False
    first, second = normalize_math(completion_answer), normalize_math(reference_answer)
    if first == second or numbers_equal(first, second):
        return True
    left, right = latex_to_sympy(first), latex_to_sympy(second)
    if left is None or right is None:
        return False
    import sympy

    try:
        return bool(sympy.simplify(left - right) == 0)
    except (TypeError, ValueError, AttributeError, RecursionError):
        return False
