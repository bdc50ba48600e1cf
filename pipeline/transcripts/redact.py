"""Customer PII out of published text: names, emails, phone and card numbers, long digit runs.

The classifier reads the original words in memory; only what the warehouse publishes is
redacted (setting ``customer_text``: ``keep | redact | drop``, default ``redact``). A hand-made
redactor was chosen over Microsoft Presidio's pattern recognizers after measuring both on the
same labelled turns (README: Privacy, with the figures): Presidio finds no names without a
spaCy model, so the call's own participant list (which Presidio cannot know) does the name
work either way, and the patterns below matched its recall on emails, phones and cards at a
fraction of the time.

Names come from a per-call deny-list: every customer participant's full name and each part of
it alone ("Priya" of "Priya Raman"), and the speaker labels of customer turns, matched in any
case (speech-recognition text is often lower case). A name holding a common English word ("Will",
"Mark", "Grant") matches only as capitalised in the name, so "Will, can you..." is redacted and
"we will grant access" is not; a lower-case "will grant" in speech-recognition text is missed.
That trade (and its measured cost) is stated in SECURITY.md.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache

import pandas as pd

MODES = ("keep", "redact", "drop")
OUTSIDE_ROLES = ("customer", "unknown")
"""Speakers who are not the company's own people: their names and (in ``drop``) words are withheld."""
NAME_SEPARATOR = "\x1f"
"""Joins a call's deny-list into one string column of the staged turns (never published)."""

CUSTOMER_NAME, EMAIL, PHONE, CARD, NUMBER = "[CUSTOMER_NAME]", "[EMAIL]", "[PHONE]", "[CARD]", "[NUMBER]"

_EMAIL = re.compile(r"(?<![\w.+'’-])[\w.+'’-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_PHONE = re.compile(r"""(?<![\w+])(?:
    \+\d{9,15}                                           # E.164 without separators
  | (?:\+\d{1,3}[\s.-]?(?:\(0\)[\s.-]?)?|1-)?            # country code and (0) trunk, or North America's 1-
    (?:\(\d{2,5}\)[\s.-]?)?                              # bracketed area code
    \d{1,6}(?:[\s.-]\d{1,6}){1,5}                        # digit groups
  )(?:\s?(?:x|ext\.?)\s?\d{1,5})?(?!\w)""", re.VERBOSE)
_DIGITS = re.compile(r"(?<![\w-])[A-Za-z]{0,6}\d[\d-]*\d(?![\w-])")  # ids and account numbers, maybe dashed
_DATE_LIKE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{4}-\d{4}|\d{1,2}-\d{1,2}-\d{2,4}")

_COMMON_WORDS = frozenset({
    "a", "an", "and", "april", "art", "august", "banks", "bell", "bill", "black", "bob", "brook", "brooks",
    "but", "can", "case", "chase", "cook", "dale", "dawn", "day", "don", "drew", "faith", "field", "fields",
    "frank", "gay", "glen", "gold", "grace", "grant", "gray", "green", "grey", "guy", "hall", "hill", "hope",
    "hunter", "iris", "ivy", "jack", "joy", "june", "king", "lane", "long", "love", "major", "mark", "max",
    "may", "miles", "new", "north", "page", "park", "pat", "penny", "price", "ray", "reed", "rich", "rose",
    "rush", "sage", "says", "silver", "sky", "so", "star", "sterling", "sue", "summer", "the", "to", "victor",
    "wade", "ward", "wells", "white", "will", "win", "winter", "young",
})


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum every payment card number carries (so order numbers are not 'cards')."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _phone(match: re.Match) -> str:
    """A phone number has 9 to 15 digits (ITU E.164) before any extension; shorter groups are left
    for the other rules (dates, counts, ranges)."""
    number = re.split(r"\s?(?:x|ext\.?)\s?\d", match.group(), maxsplit=1)[0]
    digits = sum(c.isdigit() for c in number)
    if _DATE_LIKE.match(number):  # "2026-05-12 10:30" is a timestamp
        return match.group()
    return PHONE if 9 <= digits <= 15 else match.group()


def _digits(match: re.Match) -> str:
    """Six or more digits behind letters (``CUST884213``), or seven or more alone, are ids; dates,
    years, ranges and round counts (``2024-2025``, ``350000``) are not."""
    text = match.group()
    digits = sum(c.isdigit() for c in text)
    if text[0].isalpha():
        return NUMBER if digits >= 5 else text
    return NUMBER if digits >= 7 and not _DATE_LIKE.fullmatch(text) else text


def _card(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group())
    return CARD if 13 <= len(digits) <= 19 and luhn_ok(digits) else NUMBER


def deny_list(names: Iterable[str | None]) -> tuple[str, ...]:
    """Full names and their parts, longest first so "Priya Raman" wins over "Priya"."""
    out: set[str] = set()
    for name in names:
        name = unicodedata.normalize("NFC", " ".join((name or "").split()))
        if not name or "@" in name:
            continue
        out.update({name, name.replace("’", "'"), name.replace("'", "’")})  # both apostrophes: O'Brien, O’Brien
        for part in re.split(r"[\s,]+", name):
            part = part.strip(".()'\"")
            if len(part) >= 2 and any(c.isalpha() for c in part):
                out.update({part, part.replace("’", "'"), part.replace("'", "’")})
    return tuple(sorted(out, key=lambda n: (-len(n), n)))


def _is_common(name: str) -> bool:
    return any(part.lower() in _COMMON_WORDS for part in name.split())


@lru_cache(maxsize=4096)
def _names_patterns(names: tuple[str, ...]) -> tuple[re.Pattern, ...]:
    """Names match in any case (speech-recognition text is often lower case), except those holding a
    common word ("Will Grant"), which match only as written, so "we will grant" survives."""
    plain = [n for n in names if not _is_common(n)]
    exact = [n for n in names if _is_common(n)]
    out = []
    for group, flags in ((exact, 0), (plain, re.IGNORECASE)):
        if group:
            alternatives = "|".join(re.escape(n) for n in group)
            out.append(re.compile(r"(?<!\w)(?:" + alternatives + r")(?!\w|['’]t\b)", flags))  # not "Don't"
    return tuple(out)


def redact_text(text: str, names: tuple[str, ...] = ()) -> str:
    """``text`` with the call's customer names and contact, card and id numbers replaced by typed placeholders."""
    if not text:
        return text
    text = unicodedata.normalize("NFC", text)
    text = _EMAIL.sub(EMAIL, text)
    text = _CARD.sub(_card, text)
    text = _PHONE.sub(_phone, text)
    text = _DIGITS.sub(_digits, text)
    for pattern in _names_patterns(names):
        text = pattern.sub(CUSTOMER_NAME, text)
    return text


def pack_names(names: Iterable[str | None]) -> str:
    return NAME_SEPARATOR.join(deny_list(names))


def unpack_names(packed: object) -> tuple[str, ...]:
    return tuple(n for n in packed.split(NAME_SEPARATOR) if n) if isinstance(packed, str) and packed else ()


def redact_frame(turns: pd.DataFrame, mode: str, names_column: str = "redact_names",
                 text_columns: Sequence[str] = ("text",)) -> pd.DataFrame:
    """Apply the ``customer_text`` policy to labelled turns; drops the deny-list column in every mode.

    ``keep`` publishes what was said. ``redact`` (default) replaces customer PII in every turn, rep
    and colleague turns included (reps read out a customer's email or phone), and names customer speakers
    ``customer 1``, ``customer 2`` (and ``unknown 1``...) per call, so turn-taking stays visible. ``drop`` also empties
    the text of customer turns (their word counts stay, for talk metrics).

    Raises:
        ValueError: an unknown mode.
    """
    if mode not in MODES:
        raise ValueError(f"customer_text must be one of {', '.join(MODES)}, got {mode!r}")
    out = turns.drop(columns=[names_column], errors="ignore")
    if mode == "keep" or out.empty:
        return out
    out = out.copy()
    names = turns[names_column] if names_column in turns else pd.Series([""] * len(turns), index=turns.index)
    for col in text_columns:
        out[col] = [redact_text(t, unpack_names(n)) if isinstance(t, str) else t
                    for t, n in zip(out[col], names, strict=True)]
    customer = out["speaker_role"].isin(OUTSIDE_ROLES).to_numpy()
    if customer.any():
        others = out.loc[customer, ["call_id", "speaker_role", "speaker"]]
        order = others.groupby(["call_id", "speaker_role"], sort=False)["speaker"].transform(
            lambda s: pd.Series(pd.factorize(s)[0] + 1, index=s.index))
        out.loc[customer, "speaker"] = [f"{role} {n}" for role, n in zip(others["speaker_role"], order, strict=True)]
    if mode == "drop":
        out.loc[customer, "text"] = ""
    return out


def redact_titles(call_ids: pd.Series, titles: pd.Series, turns: pd.DataFrame, mode: str,
                  names_column: str = "redact_names") -> list:
    """Call titles with their call's customer names and numbers replaced (every mode but ``keep``):
    calendar titles often read "Acme <> Priya Raman: intro"."""
    if mode == "keep" or names_column not in turns:
        return list(titles)
    names = turns.groupby("call_id", sort=False)[names_column].first()
    return [redact_text(t, unpack_names(names.get(c, ""))) if isinstance(t, str) else t
            for c, t in zip(call_ids, titles, strict=True)]
