"""The terms of :mod:`archive.search.analysis` as a Whoosh analyzer, for the schema's text fields.

The analysis itself is pure (no Whoosh): the PostgreSQL backend cuts text the same way. This
adapter hands its terms to Whoosh as tokens and, to the fast writer, as whole term tables.

The tokenizer class is pickled into the index schema by reference: renaming or moving it
means rebuilding the index (an index whose schema no longer unpickles fails
``SearchIndex.check()``, and the indexer rebuilds it from the archive).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from whoosh.analysis import Token, Tokenizer

from archive.search.analysis import fold, iter_tokens, term_positions, term_runs


class ChineseDocumentTokenizer(Tokenizer):  # type: ignore[misc]
    """Whoosh tokenizer emitting units and bigrams at sequential positions.

    Indexing does not go through ``__call__`` (see
    :class:`archive.search.whoosh.writer.UnitPositions`, which asks :func:`term_positions` for
    the whole term table at once); it is kept so that anything Whoosh does with an analyzer
    (highlighting, a query parser, Whoosh's public writer) sees the same terms.
    """

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Any]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            token.text = fold(value)
            token.original = value
            token.boost = 1.0
            if positions:
                token.pos = start_pos
            if chars:
                token.startchar, token.endchar = start_char, start_char + len(value)
            yield token
            return
        for text, pos, start, end in iter_tokens(value):
            token.text = text
            token.boost = 1.0
            token.stopped = False
            if keeporiginal:
                token.original = value[start:end]
            if positions:
                token.pos = start_pos + pos
            if chars:
                token.startchar, token.endchar = start_char + start, start_char + end
            yield token

    @staticmethod
    def term_positions(value: str) -> dict[str, list[int]]:
        return term_positions(value)

    @staticmethod
    def term_runs(value: str) -> Iterator[tuple[int, list[str]]]:
        return term_runs(value)


def document_analyzer() -> ChineseDocumentTokenizer:
    """The analyzer for title and body fields (a tokenizer alone: folding happens inside)."""
    return ChineseDocumentTokenizer()
