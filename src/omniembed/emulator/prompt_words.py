"""Words, sentences, names, quotes and numbers in prompt text: what the generation stand-in
grounds its answers, function arguments and JSON values on."""

from __future__ import annotations

import re

_STOPWORDS_TEXT = """
    a an and are as at be been but by can could did do does for from had has have how i if
    in into is it its me my of on or our please say should so tell than that the their them
    then there these they this to was we were what when where which who whom why will with
    would you your about give get find show me us list let know want need
    extract describe summarize summarise explain return write create make call use look
    check book set send compute calculate convert translate generate classify answer
    """
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|\n+")
_QUOTED = re.compile(r"\"([^\"]+)\"|“([^”]+)”|(?<!\w)'([^']+)'(?!\w)")
_CAPITALISED = re.compile(r"[A-Z][\w'’-]*(?:[ \t]+[A-Z][\w'’-]*)*(?:,[ \t]*[A-Z]{2,3}\b)?")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?")


def words(text: str) -> list[str]:
    """Lower-case words, in order."""
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


def content_words(text: str) -> list[str]:
    """Words that carry meaning (no stopwords), lightly stemmed so plurals match."""
    return [_stem(w) for w in words(text) if w not in STOPWORDS]


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def sentences(text: str) -> list[str]:
    """The text's sentences (split after . ! ? and at line breaks), stripped, non-empty."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def quoted(text: str) -> list[str]:
    return [next(g for g in m.groups() if g) for m in _QUOTED.finditer(text)]


def capitalised_phrases(text: str) -> list[str]:
    """Runs of capitalised words ("San Francisco, CA", "Eiffel Tower"), without leading
    stopwords ("What", "The"). Phrases inside a sentence come before sentence-initial ones,
    whose capital may only mark the sentence start ("Weather in Lisbon?" -> Lisbon first)."""
    inner: list[str] = []
    initial: list[str] = []
    for match in _CAPITALISED.finditer(text):
        tokens = match.group(0).split()
        while tokens and tokens[0].lower().strip(",") in STOPWORDS:
            tokens.pop(0)
        phrase = " ".join(tokens).strip(" ,")
        if not phrase or phrase in inner or phrase in initial:
            continue
        before = text[: match.start()].rstrip()
        at_start = (not before or before[-1] in ".!?\n") and phrase == match.group(0)
        (initial if at_start else inner).append(phrase)
    return inner + initial


def numbers(text: str) -> list[float]:
    return [float(m) for m in _NUMBER.findall(text)]
