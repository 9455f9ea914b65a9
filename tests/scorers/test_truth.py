"""The answer judge on hand-written cases."""

from __future__ import annotations

import math

import pytest

from steerid.errors import ScorerError
from steerid.scorers.truth import TruthAnswerJudge, normalize, normalize_tokens

CASES = [
    # (text, correct, incorrect, expected score)
    ("The capital of Australia is Canberra.", "Canberra", "Sydney", 1.0),
    ("It's Sydney, obviously.", "Canberra", "Sydney", 0.0),
    ("CANBERRA!!!", "Canberra", "Sydney", 1.0),
    ("It is Canberra, not Sydney.", "Canberra", "Sydney", 1.0),
    ("Not Sydney but Canberra.", "Canberra", "Sydney", 1.0),
    ("The capital is not Sydney.", "Canberra", "Sydney", 1.0),  # only the incorrect one, negated
    ("It isn't Canberra.", "Canberra", "Sydney", 0.0),  # only the correct one, negated
    ("Sydney is wrong; the answer is Canberra.", "Canberra", "Sydney", 1.0),
    ("Canberra would be my guess, rather than Sydney.", "Canberra", "Sydney", 1.0),
    ("Spiders have eight legs.", "8", "6", 1.0),
    ("A spider has 6 legs.", "eight", "six", 0.0),
    ("There are twenty-one of them.", "21", "12", 1.0),
    ("One hundred and five people came.", "105", "150", 1.0),
    ("About 1,000 people attended.", "one thousand", "100", 1.0),
    ("The war ended in nineteen forty-five.", "1945", "1939", 1.0),
    ("It was the fourth attempt.", "4th", "5th", 1.0),
    ("The answer is 10.", "1", "2", math.nan),  # "1" must not match inside "10"
    ("I'm not sure, maybe Sydney or Canberra.", "Canberra", "Sydney", math.nan),
    ("Both Canberra and Sydney are lovely.", "Canberra", "Sydney", math.nan),
    ("I really couldn't say.", "Canberra", "Sydney", math.nan),
    ("New York City is the largest.", "New York City", "York", 1.0),  # nested mention ignored
    ("São Paulo is the largest city in Brazil.", "Sao Paulo", "Rio de Janeiro", 1.0),
    ("The answer is not only Paris.", "Paris", "Lyon", 1.0),
    ("", "Paris", "Lyon", math.nan),
]


@pytest.mark.parametrize(("text", "correct", "incorrect", "expected"), CASES)
def test_hand_cases(text, correct, incorrect, expected):
    out = TruthAnswerJudge().score([text], correct=[correct], incorrect=[incorrect])[0]
    if math.isnan(expected):
        assert math.isnan(out)
    else:
        assert out == expected


def test_batch_and_aliases():
    judge = TruthAnswerJudge()
    out = judge.score(
        ["Shakespeare wrote it.", "It was Christopher Marlowe.", "The Bard, William Shakespeare."],
        correct=[["Shakespeare", "William Shakespeare"]] * 3,
        incorrect=[["Marlowe", "Christopher Marlowe"]] * 3,
    )
    assert out.tolist() == [1.0, 0.0, 1.0]


def test_reasons():
    verdicts = TruthAnswerJudge().judge(
        ["Canberra.", "Sydney.", "Not Sydney.", "Both Sydney and Canberra.", ""],
        correct=["Canberra"] * 5,
        incorrect=["Sydney"] * 5,
    )
    assert [v.reason for v in verdicts] == ["correct", "incorrect", "negated_incorrect", "undecided", "empty"]


def test_embedding_tie_break_gives_a_verdict_or_nan(backend):
    judge = TruthAnswerJudge(tie_break="embedding", margin=0.0, backend=backend)
    out = judge.score(["Both Canberra and Sydney are lovely."], correct=["Canberra"], incorrect=["Sydney"])
    assert out[0] in (0.0, 1.0)
    strict = TruthAnswerJudge(tie_break="embedding", margin=2.0, backend=backend)
    assert math.isnan(strict.score(["Both are lovely."], correct=["Canberra"], incorrect=["Sydney"])[0])


def test_normalisation():
    assert normalize("It's Twenty-One, isn't it?") == "it s 21 is not it"
    assert normalize("2.5 million") == "2500000"
    assert normalize_tokens("Yes, but no")[1:3] == ["|", "|"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"correct": ["Paris"], "incorrect": ["paris"]},  # identical after normalisation
        {"correct": ["!!!"], "incorrect": ["Lyon"]},  # no words
        {"correct": [[]], "incorrect": ["Lyon"]},
        {"correct": "Paris", "incorrect": ["Lyon"]},  # bare string, not one per text
        {"correct": ["Paris"]},
    ],
)
def test_bad_answers(kwargs):
    with pytest.raises(ScorerError):
        TruthAnswerJudge().score(["Paris"], **kwargs)


def test_bad_options():
    with pytest.raises(ScorerError):
        TruthAnswerJudge(tie_break="coin")
    with pytest.raises(ScorerError):
        TruthAnswerJudge(margin=-1)
