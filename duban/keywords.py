"""Key words of a complaint: what two rewordings of one complaint still share.

"垃圾堆放多日无人清理" and "垃圾还是没人来收，臭得不行" have few character pairs in common
(their bigram Jaccard is far below any threshold for near-identical text), but they share
垃圾 — a word about the matter, where 多日, 无人 and 还是 are words about every matter. A key
word is a pair of Chinese characters left when the text is cut at every stop word and
function character of the shipped list `stopwords.txt` (so 小区北门垃圾 gives 垃圾, not 门垃). Two complaints at one address key,
of one category, sharing at least `candidate_keyword_min` key words are one matter, and the
reason shown names the words, so a clerk sees why. Pairs, not a segmenter: a dictionary
segmenter (jieba) needed 9 s for 20,000 complaints here, pairs need well under one.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from pathlib import Path

__all__ = ["MATTERWORDS_FILE", "STOPWORDS_FILE", "key_words", "matter_words", "stop_lists"]

STOPWORDS_FILE = Path(__file__).with_name("stopwords.txt")
MATTERWORDS_FILE = Path(__file__).with_name("matterwords.txt")


@cache
def stop_lists() -> tuple[frozenset[str], frozenset[str]]:
    """(function characters, stop words) from `stopwords.txt`."""
    chars: set[str] = set()
    words: set[str] = set()
    for line in STOPWORDS_FILE.read_text(encoding="utf-8").splitlines():
        items = line.split()
        if not items or items[0].startswith("#"):
            continue
        if items[0] == "单字":
            chars.update(items[1:])
        else:
            words.update(items)
    return frozenset(chars), frozenset(words)


@cache
def matter_words() -> frozenset[str]:
    """Common words of complaints (`matterwords.txt`), shown first among shared key words."""
    lines = MATTERWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(w for line in lines if not line.startswith("#") for w in line.split())


@cache
def _cutter() -> re.Pattern[str]:
    """Where a complaint is cut: a stop word (longest first; the alternatives grouped by
    their first character behind a look-ahead, so most positions fail at once), a function
    character, or a run of anything not Chinese."""
    chars, words = stop_lists()
    tails: dict[str, list[str]] = {}
    for word in sorted(words, key=lambda w: (-len(w), w)):
        tails.setdefault(word[0], []).append(re.escape(word[1:]))
    trie = "|".join(f"{re.escape(c)}(?:{'|'.join(rest)})" for c, rest in tails.items())
    firsts = re.escape("".join(sorted(tails)))
    function = re.escape("".join(sorted(chars)))
    return re.compile(f"(?=[{firsts}])(?:{trie})|[{function}]|[^\\u4e00-\\u9fff]+")


@lru_cache(maxsize=262_144)
def key_words(text: str, place: str = "") -> frozenset[str]:
    """The key words of a complaint; pairs found in `place` (the road or estate of its
    address key) are left out, since the address is compared on its own."""
    found = set()
    for piece in _cutter().split(text):
        for i in range(len(piece) - 1):
            pair = piece[i : i + 2]
            if pair not in place:
                found.add(pair)
    return frozenset(found)
