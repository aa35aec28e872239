"""A character-level tokenizer shared by the built-in tasks and the built-in tiny dLLMs.

One vocabulary serves every built-in task, so a model trained on one task can read the prompts of another and the
env can check that a model and a task speak the same language by comparing vocabularies.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

SPECIAL_TOKENS = ("<pad>", "<mask>", "<eos>")
CHARACTERS = "0123456789+-*=,;:|()[]<>/.?abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MASK_DISPLAY = "_"  # how a still-masked position is rendered in decoded text; not in the vocabulary


class CharTokenizer:
    """Maps characters to ids and back; ids 0, 1, 2 are padding, mask and end-of-sequence.

    Example:
        >>> tokenizer = CharTokenizer()
        >>> ids = tokenizer.encode("12+3=")
        >>> tokenizer.decode(ids + [tokenizer.eos_token_id, tokenizer.eos_token_id])
        '12+3='
        >>> tokenizer.decode([tokenizer.encode("7")[0], tokenizer.mask_token_id])
        '7_'
    """

    def __init__(self, characters: str = CHARACTERS) -> None:
        if len(set(characters)) != len(characters):
            raise ValueError(f"characters must be unique, got duplicates in {characters!r}")
        self.vocab: tuple[str, ...] = SPECIAL_TOKENS + tuple(characters)
        self._ids = {token: index for index, token in enumerate(self.vocab)}
        self.pad_token_id = 0
        self.mask_token_id = 1
        self.eos_token_id = 2

    @property
    def vocab_size(self) -> int:
        """Number of token ids."""
        return len(self.vocab)

    def encode(self, text: str) -> list[int]:
        """Turns text into ids, one per character.

        Raises:
            ValueError: if a character is not in the vocabulary.
        """
        try:
            return [self._ids[character] for character in text]
        except KeyError as error:
            raise ValueError(
                f"text {text!r} holds character {error.args[0]!r}, which is not in the vocabulary "
                f"{''.join(self.vocab[len(SPECIAL_TOKENS) :])!r}"
            ) from None

    def decode(self, ids: Iterable[int], end_token_ids: Sequence[int] | None = None) -> str:
        """Turns ids into text, stopping at the first end token; masks show as ``_``, padding is skipped."""
        end_token_ids = (self.eos_token_id,) if end_token_ids is None else tuple(end_token_ids)
        characters = []
        for token in ids:
            token = int(token)
            if token in end_token_ids:
                break
            if token == self.mask_token_id:
                characters.append(MASK_DISPLAY)
            elif token != self.pad_token_id:
                characters.append(self.vocab[token])
        return "".join(characters)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharTokenizer) and other.vocab == self.vocab

    def __hash__(self) -> int:
        return hash(self.vocab)

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"
