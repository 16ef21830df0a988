"""Text normalisation shared by the importer and the analysis.

Platform exports mix full-width and half-width characters, stray spaces and punctuation;
two spellings of one address must compare equal before anything is grouped or matched.
"""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
_ADDRESS_NOISE = re.compile(r"[\s,，。.、;；:：\-—_()（）\[\]【】\"'“”‘’#＃]")
_TOWN_PREFIX = re.compile(r"^(上海市)?(青浦区)?")


def to_halfwidth(text: str) -> str:
    """Full-width digits, letters, punctuation and the ideographic space → ASCII (NFKC)."""
    return unicodedata.normalize("NFKC", text)


def clean(text: object) -> str:
    """A cell's text: half-width, trimmed, inner runs of white space folded to one space."""
    if text is None:
        return ""
    return _SPACES.sub(" ", to_halfwidth(str(text))).strip()


def normalize_header(text: object) -> str:
    """A column header for synonym lookup: half-width, no white space at all."""
    return _SPACES.sub("", to_halfwidth(str(text or "")))


def normalize_address(text: object) -> str:
    """An address as a grouping key: half-width, no spaces or punctuation, no city/district prefix."""
    key = _ADDRESS_NOISE.sub("", to_halfwidth(str(text or "")))
    return _TOWN_PREFIX.sub("", key)


def fold_username(username: str) -> str:
    """The form a username is compared in: NFKC + casefold, done in Python because SQLite's
    lower() folds ASCII only (`ÄRGER1` and `ärger1` are one account, so are full-width
    letters and their ASCII twins)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", username).casefold())
