"""``extract_vector`` from ContrastivePair records or plain tuples of texts (tiny model)."""

import numpy as np
import pytest

from steerid.errors import DataError
from steerid.extract.pipeline import as_pairs, extract_vector, pair_texts
from steerid.models import Site
from steerid.traits.schema import ContrastivePair

TEXTS = [("I love this, it is wonderful.", "I hate this, it is awful."),
         ("What a great day!", "What a terrible day!"),
         ("Thanks, that was kind.", "Ugh, that was rude.")]
PROMPT = "How was it?"


def test_plain_tuples_extract_the_same_vector_as_records(llama_lm):
    records = [ContrastivePair(id=f"p{i}", positive=p, negative=n) for i, (p, n) in enumerate(TEXTS)]
    from_records = extract_vector(llama_lm, records, Site(1), trait="sentiment")
    from_tuples = extract_vector(llama_lm, TEXTS, Site(1), trait="sentiment")
    np.testing.assert_array_equal(from_tuples.direction, from_records.direction)
    assert from_tuples.norm == from_records.norm
    assert from_tuples.provenance.prompts_hash == from_records.provenance.prompts_hash
    assert from_tuples.provenance.n_examples == 3 and from_tuples.site == Site(1)


def test_prompted_tuples_are_formatted_like_prompted_records(llama_lm):
    records = [ContrastivePair(id=f"p{i}", prompt=PROMPT, positive=p, negative=n) for i, (p, n) in enumerate(TEXTS)]
    triples = [(PROMPT, p, n) for p, n in TEXTS]
    assert pair_texts(llama_lm, triples) == pair_texts(llama_lm, records)
    ours = extract_vector(llama_lm, triples, Site(1), method="pca")
    np.testing.assert_array_equal(ours.direction, extract_vector(llama_lm, records, Site(1), method="pca").direction)


def test_a_generator_of_tuples_is_accepted(llama_lm):
    vector = extract_vector(llama_lm, (pair for pair in TEXTS), Site(1))
    assert vector.provenance.n_examples == 3


@pytest.mark.parametrize(("pairs", "match"), [
    ("not pairs", "single string"),
    ([("only one text",)], "not a \\(positive, negative\\) tuple"),
    ([("a", "b"), 42], "pair #2"),
    ([("a", ""), ("c", "d")], "empty"),
    ([("a", None), ("c", "d")], "not str"),
    ([("same", "same "), ("c", "d")], "same positive and negative"),
])
def test_malformed_pairs_raise_one_clear_data_error(pairs, match):
    with pytest.raises(DataError, match=match):
        as_pairs(pairs)


def test_fewer_than_two_pairs_refused(llama_lm):
    with pytest.raises(DataError, match="at least two pairs"):
        extract_vector(llama_lm, TEXTS[:1], Site(1))
