"""What the transformers backend must know before loading: the model family and the transformers versions it needs.

Families (``../shared/fixtures/README.md`` lists the facts behind each):

- ``"llada"``: LLaDA's hub code (``model_type: "llada"``, loaded through ``AutoModel``): unshifted logits, a
  ``[B, T]`` 0/1 attention mask, no KV cache.
- ``"dream"``: Dream's hub code (``model_type: "Dream"``, ``AutoModel``): logits shifted by one (the prediction
  for position i is read at i - 1), a bool ``[B, 1, T, T]`` attention mask with ``position_ids``.
- ``"masked_lm"``: any ``AutoModelForMaskedLM`` (BERT, RoBERTa, ModernBERT, ...): unshifted logits, a ``[B, T]``
  mask, ``position_ids`` from the mask where the model takes them.

LLaDA's and Dream's modeling code lives next to their weights (``trust_remote_code``). It works on transformers
4.46 – 4.57. transformers 5.x breaks both; LLaDA's three breakages have runtime patches (``hf_patches.py``, from 5.1
on, always followed by the self-test), while Dream, two of whose breakages are silent (wrong logits, no error), is
refused there with an error naming the versions that work.
"""

from __future__ import annotations

from typing import Any

FAMILIES = ("llada", "dream", "masked_lm")
REMOTE_CODE_FAMILIES = ("llada", "dream")
REMOTE_CODE_TRANSFORMERS = ((4, 46), (4, 57))  # the oldest and newest minor versions both remote codes work with
PATCHED_FROM = {"llada": (5, 1)}  # families whose 5.x breakages hf_patches.py fixes, from this version on
MODEL_TYPE_FAMILIES = {"llada": "llada", "dream": "dream"}  # config.model_type (lower-cased) -> family
INSTALL_HINT = 'pip install "unmask-gym[hf]"'


def import_transformers() -> Any:
    """The ``transformers`` module, or an ImportError naming the extra that installs it."""
    try:
        import transformers
    except ImportError:
        raise ImportError(f"the transformers backend needs transformers: {INSTALL_HINT}") from None
    return transformers


def transformers_version() -> str:
    """The installed transformers version (one place, so tests can pretend another)."""
    return str(import_transformers().__version__)


def detect_family(config: dict[str, Any], family: str | None = None) -> str:
    """The family of a model from its ``config.json`` contents, or ``family`` when given (an explicit override).

    Example:
        >>> detect_family({"model_type": "Dream"})
        'dream'
        >>> detect_family({"model_type": "bert"})
        'masked_lm'
        >>> detect_family({"model_type": "bert"}, family="llada")
        'llada'
        >>> detect_family({"model_type": "bert"}, family="gpt")
        Traceback (most recent call last):
        ...
        ValueError: family must be one of ('llada', 'dream', 'masked_lm') or None (read from the config), got 'gpt'
    """
    if family is not None:
        if family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES} or None (read from the config), got {family!r}")
        return family
    model_type = str(config.get("model_type", "")).lower()
    return MODEL_TYPE_FAMILIES.get(model_type, "masked_lm")


def version_tuple(version: str) -> tuple[int, int]:
    """(major, minor) of a version string such as ``"4.57.6"`` or ``"5.0.0rc1"``."""
    parts = version.split(".")
    digits = ["".join(character for character in part if character.isdigit()) or "0" for part in parts[:2]]
    return int(digits[0]), int(digits[1]) if len(digits) > 1 else 0


def needs_v5_patches(family: str, version: str) -> bool:
    """Whether loading ``family``'s hub code on this transformers version goes through ``hf_patches.py``."""
    return family in PATCHED_FROM and version_tuple(version) >= PATCHED_FROM[family]


def check_transformers_version(family: str, version: str) -> None:
    """Raises a ValueError if LLaDA's or Dream's hub code is known not to work with this transformers version.

    Example:
        >>> check_transformers_version("llada", "4.57.6")
        >>> check_transformers_version("llada", "5.23.0")  # with the runtime patches of hf_patches.py
        >>> check_transformers_version("masked_lm", "5.3.0")
        >>> check_transformers_version("dream", "5.3.0")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: family 'dream' runs its hub modeling code (trust_remote_code), which works with ...
    """
    if family not in REMOTE_CODE_FAMILIES or needs_v5_patches(family, version):
        return
    (low_major, low_minor), (high_major, high_minor) = REMOTE_CODE_TRANSFORMERS
    if not (low_major, low_minor) <= version_tuple(version) <= (high_major, high_minor):
        patched = f", or {'.'.join(map(str, PATCHED_FROM[family]))} and later" if family in PATCHED_FROM else ""
        raise ValueError(
            f"family {family!r} runs its hub modeling code (trust_remote_code), which works with transformers "
            f"{low_major}.{low_minor} to {high_major}.{high_minor}{patched}; this is transformers {version}, where "
            f"it fails or, on 5.x, silently computes wrong logits: pip install \"transformers>={low_major}.{low_minor},"
            f"<{high_major}.{high_minor + 1}\""
        )
