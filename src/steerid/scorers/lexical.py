"""Small, transparent lexical features that can sit beside the sentence embedding in a head.

Each feature is a pure function of the text (no model, no state). Counts are ``log1p``-damped
and rates are per word so long and short texts are comparable. Heads standardise every
feature with the training mean and scale stored in the head file.

Whether a head uses these features at all is decided per trait by cross-validation on the
training split only (see :mod:`steerid.scorers.train`); the decision and the CV scores are
written into the head file and the model card.

Group ``style`` (name → definition):

- ``contraction_rate``: contractions (``don't``, ``it's``, ``we'll`` …) per word;
- ``slang_rate``: chat/slang words (``gonna``, ``lol``, ``yeah``, ``u`` …) per word;
- ``please``: log1p count of ``please``/``pls``/``plz``/``kindly``;
- ``thanks``: log1p count of ``thank*``/``thx``/``appreciate*``/``grateful``;
- ``sorry``: log1p count of ``sorry``/``apolog*``/``regret*``;
- ``second_person_rate``: ``you``/``your``/``yours``/``yourself``/``u``/``ur`` per word;
- ``exclamations``: log1p count of ``!``;
- ``questions``: log1p count of ``?``;
- ``hedges``: log1p count of hedging words/phrases (``perhaps``, ``maybe``, ``I think`` …);
- ``emoticons``: log1p count of emoji and ASCII emoticons (``:)``, ``:D`` …);
- ``repeated_punct``: log1p count of runs like ``!!``, ``??``, ``...``;
- ``lowercase_start``: 1 if the first letter of the text is lower-case, else 0;
- ``mean_word_length``: mean letters per word (0 for no words);
- ``log_words``: log1p of the word count.

A third group, ``stance``, marks agreement and disagreement (after lower-casing; ``’`` read
as ``'``):

- ``agree_markers``: log1p count of agreement phrases (``I agree``, ``you're right``,
  ``exactly``, ``absolutely``, ``good point``, ``makes sense``, ``spot on`` …);
- ``disagree_markers``: log1p count of disagreement phrases (``I disagree``, ``not
  convinced``, ``I don't think``, ``not sure``, ``nonsense``, ``that's wrong`` …);
- ``negated_agree``: log1p count of negated agreement (``don't agree``, ``can't agree``,
  ``not right``, ``isn't true`` …), which signals disagreement;
- ``negated_disagree``: log1p count of negated disagreement (``don't disagree``, ``can't
  argue with``, ``couldn't agree more``, ``no argument`` …), which signals agreement.
  Negated phrases are removed before the plain markers are counted;
- ``opens_agree`` / ``opens_disagree``: 1 if the first four words open with an agreement
  (``yes``, ``absolutely``, ``exactly``, ``true`` …) / disagreement (``no``, ``actually``,
  ``nonsense``, ``hmm`` …) word;
- ``contrast``: log1p count of ``but``/``however``/``though``/``although``/``yet``.

A second group, ``sentiment_lexicon``, holds VADER's lexicon scores (Hutto & Gilbert, 2014):
``vader_compound`` (in [−1, 1]) and the proportions ``vader_pos``, ``vader_neg``, ``vader_neu``.
They carry VADER's hand-built valence lexicon and negation/intensifier rules, which
sentence embeddings capture poorly.

:data:`FEATURE_GROUPS` maps group names to feature names; training tries each combination of
groups and keeps one only when it lowers the cross-validated log-loss.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")
_CONTRACTION = re.compile(r"\b[A-Za-z]+['’](?:s|re|ve|ll|d|m|t)\b|\b[A-Za-z]+n['’]t\b", re.IGNORECASE)
_SLANG = frozenset(
    """gonna wanna gotta kinda sorta lemme gimme dunno yeah yep yup nope nah lol lmao rofl omg btw tbh idk imo
    imho dude bro bruh ya u ur thx pls plz ok okay k kk hey heya sup cuz coz y'all yall ain't hella af wtf haha
    hahaha hehe hmm ugh meh whoa wow yay awesome cool stuff tho gotcha anyways ppl rn asap fyi smh ngl fr""".split()
)
_PLEASE = re.compile(r"\b(?:please|pls|plz|kindly)\b", re.IGNORECASE)
_THANKS = re.compile(r"\b(?:thank\w*|thx|ty|appreciat\w*|grateful)\b", re.IGNORECASE)
_SORRY = re.compile(r"\b(?:sorry|apolog\w*|regret\w*)\b", re.IGNORECASE)
_SECOND = re.compile(r"\b(?:you|your|yours|yourself|yourselves|u|ur|ya|y'all)\b", re.IGNORECASE)
_HEDGE = re.compile(
    r"\b(?:perhaps|maybe|might|possibly|probably|presumably|somewhat|arguably|apparently|"
    r"i think|i guess|i suppose|i believe|it seems|seems? to|kind of|sort of|not sure)\b",
    re.IGNORECASE,
)
_EMOTICON = re.compile(
    r"(?::-?[)(DPp/]|;-?\)|<3|\bxD\b|[\U0001F300-\U0001FAFF\u2600-\u27BF])"
)
_REPEAT = re.compile(r"(?:[!?]{2,}|\.{3,}|…)")


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def _rate(count: int, text: str) -> float:
    return count / max(len(_words(text)), 1)


def _lowercase_start(text: str) -> float:
    for char in text:
        if char.isalpha():
            return 1.0 if char.islower() else 0.0
    return 0.0


def _mean_word_length(text: str) -> float:
    words = _words(text)
    return sum(len(w) for w in words) / len(words) if words else 0.0


def _slang_count(text: str) -> int:
    return sum(1 for w in _words(text) if w.lower().replace("’", "'") in _SLANG)


@lru_cache(maxsize=1)
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


@lru_cache(maxsize=4096)
def _vader_scores(text: str) -> dict[str, float]:
    return _vader().polarity_scores(text)


_AGREE = re.compile(
    r"\b(?:i agree|agreed|you'?re (?:so |totally |absolutely |completely )?right|that'?s (?:so )?(?:true|right)|"
    r"exactly|absolutely|definitely|totally|good point|fair point|great point|spot on|makes (?:perfect |total )?sense|"
    r"of course|no doubt|so true|true|same here|well said|you said it|i think so too|me too|indeed|yes|yeah|yep|"
    r"for sure|100%)",
    re.IGNORECASE,
)
_DISAGREE = re.compile(
    r"\b(?:i disagree|disagree|not convinced|i don'?t think|i do not think|not sure|i doubt|doubt|nonsense|"
    r"ridiculous|rubbish|that'?s wrong|you'?re wrong|wrong|beg to differ|not necessarily|not really|not quite|"
    r"on the contrary|i'?d argue|actually|cannot concur|can'?t concur|hardly|overrated|no way|nope|"
    r"i see it differently|quite differently|not at all|i'?m afraid not)",
    re.IGNORECASE,
)
_NEG_AGREE = re.compile(
    r"(?:don'?t|do not|can'?t|cannot|couldn'?t|won'?t|wouldn'?t|not)\s+(?:really\s+|quite\s+|fully\s+)?agree"
    r"|\b(?:not|isn'?t|wasn'?t|aren'?t)\s+(?:quite\s+|really\s+)?(?:right|true|correct|so)\b",
    re.IGNORECASE,
)
_NEG_DISAGREE = re.compile(
    r"(?:don'?t|do not|can'?t|cannot|couldn'?t|won'?t|wouldn'?t|not|never)\s+(?:really\s+|possibly\s+)?"
    r"(?:disagree|argue)|couldn'?t agree more|could not agree more|no argument|no arguments|hard to argue|"
    r"can'?t fault|no complaints? (?:from me|there)",
    re.IGNORECASE,
)
_OPEN_AGREE = frozenset(
    "yes yeah yep yup absolutely exactly definitely totally true right agreed indeed sure certainly of course".split()
)
_OPEN_DISAGREE = frozenset("no nope nah actually hmm nonsense rubbish wrong well honestly afraid".split())
_CONTRAST = re.compile(r"\b(?:but|however|though|although|yet)\b", re.IGNORECASE)


def _norm_quotes(text: str) -> str:
    return text.replace("’", "'").replace("‘", "'")


@lru_cache(maxsize=4096)
def _stance_counts(text: str) -> tuple[int, int, int, int]:
    """(agree, disagree, negated_agree, negated_disagree) counts; negated phrases are removed
    before the plain markers are counted, so "don't disagree" is not also a disagreement."""
    t = _norm_quotes(text)
    neg_dis = len(_NEG_DISAGREE.findall(t))
    t = _NEG_DISAGREE.sub(" ", t)
    neg_agr = len(_NEG_AGREE.findall(t))
    t = _NEG_AGREE.sub(" ", t)
    return len(_AGREE.findall(t)), len(_DISAGREE.findall(t)), neg_agr, neg_dis


def _opens_with(text: str, words: frozenset[str]) -> float:
    first = [w.lower() for w in _words(_norm_quotes(text))[:4]]
    return 1.0 if any(w in words for w in first) else 0.0


FEATURES: dict[str, Callable[[str], float]] = {
    "contraction_rate": lambda t: _rate(len(_CONTRACTION.findall(t)), t),
    "slang_rate": lambda t: _rate(_slang_count(t), t),
    "please": lambda t: math.log1p(len(_PLEASE.findall(t))),
    "thanks": lambda t: math.log1p(len(_THANKS.findall(t))),
    "sorry": lambda t: math.log1p(len(_SORRY.findall(t))),
    "second_person_rate": lambda t: _rate(len(_SECOND.findall(t)), t),
    "exclamations": lambda t: math.log1p(t.count("!")),
    "questions": lambda t: math.log1p(t.count("?")),
    "hedges": lambda t: math.log1p(len(_HEDGE.findall(t))),
    "emoticons": lambda t: math.log1p(len(_EMOTICON.findall(t))),
    "repeated_punct": lambda t: math.log1p(len(_REPEAT.findall(t))),
    "lowercase_start": _lowercase_start,
    "mean_word_length": _mean_word_length,
    "log_words": lambda t: math.log1p(len(_words(t))),
    "agree_markers": lambda t: math.log1p(_stance_counts(t)[0]),
    "disagree_markers": lambda t: math.log1p(_stance_counts(t)[1]),
    "negated_agree": lambda t: math.log1p(_stance_counts(t)[2]),
    "negated_disagree": lambda t: math.log1p(_stance_counts(t)[3]),
    "opens_agree": lambda t: _opens_with(t, _OPEN_AGREE),
    "opens_disagree": lambda t: _opens_with(t, _OPEN_DISAGREE),
    "contrast": lambda t: math.log1p(len(_CONTRAST.findall(t))),
    "vader_compound": lambda t: float(_vader_scores(t)["compound"]),
    "vader_pos": lambda t: float(_vader_scores(t)["pos"]),
    "vader_neg": lambda t: float(_vader_scores(t)["neg"]),
    "vader_neu": lambda t: float(_vader_scores(t)["neu"]),
}
"""All available lexical features, in a fixed order."""

FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "style": (
        "contraction_rate", "slang_rate", "please", "thanks", "sorry", "second_person_rate", "exclamations",
        "questions", "hedges", "emoticons", "repeated_punct", "lowercase_start", "mean_word_length", "log_words",
    ),
    "stance": (
        "agree_markers", "disagree_markers", "negated_agree", "negated_disagree", "opens_agree", "opens_disagree",
        "contrast",
    ),
    "sentiment_lexicon": ("vader_compound", "vader_pos", "vader_neg", "vader_neu"),
}
"""Feature groups that training switches on or off as a whole."""


def lexical_features(texts: Sequence[str], names: Sequence[str] | None = None) -> np.ndarray:
    """Compute lexical features.

    Args:
        texts: Texts to featurise.
        names: Feature names (a subset of :data:`FEATURES`, in the order wanted); all by default.

    Returns:
        float64 array ``(len(texts), len(names))``.

    Raises:
        KeyError: If a name is not in :data:`FEATURES` (callers validate names first).
    """
    chosen = list(FEATURES) if names is None else list(names)
    funcs = [FEATURES[name] for name in chosen]
    out = np.zeros((len(texts), len(funcs)), dtype=np.float64)
    for i, text in enumerate(texts):
        for j, func in enumerate(funcs):
            out[i, j] = func(text)
    return out
