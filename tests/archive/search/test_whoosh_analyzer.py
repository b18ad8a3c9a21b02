"""The analysis as Whoosh's analyzer: the same terms, positions Whoosh can chain, and a
tokenizer that survives being pickled into the index schema."""

from __future__ import annotations

import pickle
import re

from archive.search.analysis import fold
from archive.search.whoosh.analyzer import document_analyzer


def test_positions_are_sequential_units_and_chars_point_into_the_original() -> None:
    text = "經查，張三丰於2021年3月\n騙取醫保基金ＡＢＣ１２３元。"
    tokens = [
        (t.text, t.pos, t.startchar, t.endchar)
        for t in document_analyzer()(text, positions=True, chars=True)
    ]
    positions = sorted({pos for _, pos, _, _ in tokens})
    assert positions == list(range(len(positions)))  # one position per unit, no gaps
    for token_text, _, start, end in tokens:
        assert re.sub(r"\s", "", fold(text[start:end])) == token_text


def test_analyzer_survives_the_schema_pickle() -> None:
    analyzer = document_analyzer()
    assert pickle.loads(pickle.dumps(analyzer)) == analyzer
