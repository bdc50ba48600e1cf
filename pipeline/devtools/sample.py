"""Synthetic sales calls for the demo, the tests and throughput benchmarks.

The calls are realistic enough for the scorecards to tell reps apart: every rep in
``REPS`` has a selling style (see ``STYLES``) that decides what their turns do, how long
they talk and how quickly they answer, and the customer reacts to each turn (an open
question earns a story, a feature monologue earns "mm-hmm"). Text comes from hand-written
phrase banks with slots filled per industry, and about 30% of calls read like speech
recognition output (``asr_noise``).

``generate_calls`` returns canonical call dicts, the single source of truth; the writers
only render them: about half as canonical JSON, a quarter as WebVTT (Zoom, Teams or Meet
dialect) with a ``.meta.json`` sidecar, and a quarter inside Gong API exports of 5-15 calls.
Everything is driven by ``random.Random`` instances seeded from (seed, date) with
``zlib.crc32``, so the same arguments always write byte-identical files and one day does
not change when other days, or the number of deliberately bad files, change.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
import logging
import posixpath
import random
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from typing import Any

import fsspec

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# Phrase banks and the world (industries, people, slot values): data, in phrases.json beside
# this module. A bank's name starts with what the turn does: probe_ (knowledge_probing),
# rapport_, trust_ (trust_commitment), other_, cust_ (customer) or se_ (sales engineer).
# {slots} are filled per call and per use (see _context).
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Industry:
    name: str
    companies: tuple[tuple[str, str], ...]  # (name, email domain)
    things: tuple[str, ...]  # processes the customer runs
    metrics: tuple[str, ...]
    tools: tuple[str, ...]
    peers: tuple[str, ...]  # reference customers named in proof


def _load_phrases() -> dict[str, Any]:
    """The banks shipped as package data (``phrases.json``), checked for characters WebVTT would need escaped."""
    raw = json.loads(resources.files(__package__).joinpath("phrases.json").read_text(encoding="utf-8"))
    for name, bank in raw["banks"].items():
        if any(ch in phrase for phrase in bank for ch in "<>&"):
            raise ValueError(f"phrases.json bank {name!r}: no '<', '>' or '&' (WebVTT would need them escaped)")
    return raw


_PHRASES = _load_phrases()
BANKS: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in _PHRASES["banks"].items()}
QA: tuple[tuple[str, str], ...] = tuple((q, a) for q, a in _PHRASES["qa"])
EXPAND: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in _PHRASES["expand"].items()}
REPLY: dict[str, dict[str, float]] = _PHRASES["reply"]
INDUSTRIES: tuple[_Industry, ...] = tuple(
    _Industry(i["name"], tuple((c, d) for c, d in i["companies"]), tuple(i["things"]), tuple(i["metrics"]),
              tuple(i["tools"]), tuple(i["peers"])) for i in _PHRASES["industries"])
FIRST_NAMES: tuple[str, ...] = tuple(_PHRASES["first_names"])
LAST_NAMES: tuple[str, ...] = tuple(_PHRASES["last_names"])
SLOTS: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in _PHRASES["slots"].items()}
TITLES: tuple[str, ...] = tuple(_PHRASES["titles"])


# ---------------------------------------------------------------------------------------------
# Selling styles and reps.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Mix:
    """A weighted choice, precomputed so drawing is one bisect."""

    keys: tuple[Any, ...]
    cum: tuple[float, ...]

    @classmethod
    def of(cls, weights: Mapping[Any, float]) -> _Mix:
        total, cum = 0.0, []
        for w in weights.values():
            total += w
            cum.append(total)
        return cls(tuple(weights), tuple(cum))

    def pick(self, rng: random.Random) -> Any:
        return self.keys[bisect.bisect_right(self.cum, rng.random() * self.cum[-1])]


@dataclass(frozen=True)
class _Style:
    """How a rep sells: what their turns do, how long they run and how fast they answer."""

    body: _Mix  # rep-turn kinds in the body of the call
    extra: _Mix  # how many sentences to add in front of an expandable turn (EXPAND)
    answer_proof: float  # chance an answer to a customer question also cites proof
    keeps_promises: float  # chance a customer's request gets a commitment rather than a hedge
    rate: float  # words per second
    pause: tuple[float, float]  # seconds of silence before answering the customer
    warm: float  # chance the greeting and the farewell are warm (rapport) rather than ritual
    small_talk: int  # most rounds of small talk after the greeting
    close_commit: float  # chance the call ends on the rep's own commitments


def _style(body: dict[str, float], extra: tuple[float, ...], answer_proof: float, keeps_promises: float,
           rate: float, pause: tuple[float, float], warm: float, small_talk: int, close_commit: float) -> _Style:
    return _Style(_Mix.of(body), _Mix.of(dict(enumerate(extra))), answer_proof, keeps_promises, rate, pause, warm,
                  small_talk, close_commit)


STYLES: dict[str, _Style] = {
    # discovery, summaries back, concrete commitments and proof; listens
    "trusted_advisor": _style(
        {"probe_open": 9, "probe_closed": 3, "probe_elaborate": 4, "probe_summary": 5, "probe_impact": 4,
         "probe_decision": 3, "probe_social": 1, "trust_commit": 5, "trust_outcome": 3, "trust_guarantee": 1,
         "trust_proof": 3, "trust_followup": 2, "rapport_empathy": 3, "rapport_compliment": 1, "rapport_humor": 1,
         "other_backchannel": 20, "other_product": 3, "other_logistics": 1, "other_pricing": 1, "other_offer": 1},
        (9, 3, 1), 0.25, 0.95, 2.6, (0.8, 1.5), 0.7, 1, 0.9),
    # probes deeply, rarely commits
    "knows_customer": _style(
        {"probe_open": 10, "probe_closed": 5, "probe_elaborate": 5, "probe_summary": 5, "probe_impact": 4,
         "probe_decision": 5, "probe_social": 2, "trust_commit": 1, "trust_proof": 1, "rapport_empathy": 2,
         "rapport_smalltalk": 1, "other_backchannel": 16, "other_product": 5, "other_hedge": 4, "other_offer": 4,
         "other_logistics": 2, "other_pricing": 1},
        (5, 3, 2, 1), 0.05, 0.3, 2.5, (0.7, 1.4), 0.4, 1, 0.1),
    # small talk, compliments, empathy; few probes
    "relationship_only": _style(
        {"probe_open": 2, "probe_closed": 2, "probe_social": 3, "rapport_smalltalk": 12, "rapport_compliment": 7,
         "rapport_humor": 7, "rapport_empathy": 7, "trust_commit": 2, "other_backchannel": 8, "other_product": 7,
         "other_vague": 7, "other_hedge": 5, "other_offer": 4, "other_logistics": 2, "other_pitchcheck": 2},
        (4, 3, 2, 1), 0.05, 0.4, 2.6, (0.5, 1.1), 1.0, 3, 0.15),
    # feature monologues, pitch checks, vague claims; talks most of the time
    "pitcher": _style(
        {"other_product": 30, "other_pitchcheck": 14, "other_vague": 12, "other_pricing": 5, "other_logistics": 2,
         "other_backchannel": 2, "probe_closed": 4, "probe_open": 2, "rapport_compliment": 3, "rapport_humor": 3,
         "rapport_smalltalk": 2, "trust_outcome": 3, "trust_proof": 2, "trust_commit": 1},
        (4, 3, 3, 3, 2, 2, 1, 1), 0.1, 0.5, 3.0, (0.2, 0.5), 0.5, 1, 0.3),
    # commitments and proof, moderate probing
    "closer": _style(
        {"trust_commit": 9, "trust_outcome": 6, "trust_guarantee": 4, "trust_proof": 7, "trust_followup": 3,
         "probe_open": 5, "probe_closed": 5, "probe_decision": 5, "probe_impact": 2, "probe_summary": 2,
         "rapport_smalltalk": 2, "rapport_compliment": 2, "other_backchannel": 8, "other_product": 8,
         "other_pricing": 6, "other_offer": 3, "other_logistics": 2},
        (3, 3, 2, 1), 0.5, 0.95, 2.6, (0.4, 1.0), 0.5, 1, 1.0),
    "balanced": _style(
        {"probe_open": 5, "probe_closed": 4, "probe_elaborate": 2, "probe_summary": 2, "probe_impact": 2,
         "probe_decision": 3, "probe_social": 1, "trust_commit": 4, "trust_outcome": 2, "trust_proof": 3,
         "trust_followup": 1, "rapport_smalltalk": 3, "rapport_compliment": 2, "rapport_humor": 2,
         "rapport_empathy": 3, "other_backchannel": 14, "other_product": 8, "other_pricing": 3, "other_offer": 3,
         "other_logistics": 2, "other_pitchcheck": 2, "other_hedge": 2},
        (5, 3, 1), 0.25, 0.75, 2.5, (0.5, 1.2), 0.6, 1, 0.6),
}


_REPLY_MIX = {kind: _Mix.of(weights) for kind, weights in REPLY.items()}
_REPLY_DEFAULT = _Mix.of({"cust_backchannel": 1, "cust_react": 1})
# Rep turns that only make sense right after the customer said something substantial.
_AFTER_STORY = frozenset({"rapport_empathy", "probe_elaborate", "probe_summary", "other_backchannel"})


@dataclass(frozen=True)
class SampleRep:
    """A sales rep of the sample company; ``gong_user_id`` is how Gong knows them (not the rep id)."""

    rep_id: str
    name: str
    email: str
    team: str
    manager: str
    style: str
    gong_user_id: str


REPS: tuple[SampleRep, ...] = (
    SampleRep("rep_01", "Dana Whitfield", "dana@seller.io", "Enterprise", "Morgan Reyes", "trusted_advisor",
              "2451384623958217463"),
    SampleRep("rep_02", "Luis Ortega", "luis@seller.io", "Enterprise", "Morgan Reyes", "pitcher",
              "8734120987346512890"),
    SampleRep("rep_03", "Priya Raman", "priya@seller.io", "Mid-Market", "Alex Chen", "knows_customer",
              "3398127465019283746"),
    SampleRep("rep_04", "Tom Becker", "tom@seller.io", "Mid-Market", "Alex Chen", "relationship_only",
              "5562019384756102938"),
    SampleRep("rep_05", "Aisha Bello", "aisha@seller.io", "Commercial", "Jordan Blake", "closer",
              "1209384756473829105"),
    SampleRep("rep_06", "Kenji Watanabe", "kenji@seller.io", "Commercial", "Jordan Blake", "balanced",
              "6650193847561029384"),
    SampleRep("rep_07", "Marcus Hale", "marcus@seller.io", "Commercial", "Jordan Blake", "pitcher",
              "7781029384756473821"),
    SampleRep("rep_08", "Grace Kim", "grace@seller.io", "Mid-Market", "Alex Chen", "closer",
              "4412983746501928374"),
)

_REP_NAMES = frozenset(r.name for r in REPS)
REP_NAMES_FIRST = ("Avery", "Blake", "Casey", "Devon", "Emery", "Finley", "Harper", "Jules", "Kendall", "Logan",
                   "Morgan", "Noor", "Parker", "Quinn", "Reese", "Rowan", "Sasha", "Taylor", "Wren", "Yara")
REP_NAMES_LAST = ("Abbott", "Barros", "Castillo", "Dubois", "Eriksen", "Fischer", "Gallo", "Horvat", "Iwata",
                  "Jensen", "Kowalski", "Lindqvist", "Moreau", "Novak", "Okoye", "Petrov", "Rossi", "Silva",
                  "Tanaka", "Varga")


def rep_pool(calls_per_day: int, calls_per_rep: int | None = None) -> tuple[SampleRep, ...]:
    """The reps a day's calls are spread over: the eight named reps, plus as many more as it takes for
    no rep to hold more than about ``calls_per_rep`` calls (None: the eight alone, the demo's team).

    Benchmarks at thousands of calls a day need this: eight reps with a thousand calls each is no
    real team, and a rep-day is the unit the validation gate holds in memory (``run.validate_day``).
    """
    if calls_per_rep is None:
        return REPS
    if calls_per_rep < 1:
        raise ValueError(f"calls_per_rep must be >= 1, got {calls_per_rep}")
    extra = max(0, -(-calls_per_day // calls_per_rep) - len(REPS))
    if extra > len(REP_NAMES_FIRST) * len(REP_NAMES_LAST) * 10:
        raise ValueError(f"{calls_per_day} calls at {calls_per_rep} a rep need more reps than the name banks make")
    reps = list(REPS)
    styles = [r.style for r in REPS]
    for k in range(extra):
        first = REP_NAMES_FIRST[k % len(REP_NAMES_FIRST)]
        last = REP_NAMES_LAST[(k // len(REP_NAMES_FIRST)) % len(REP_NAMES_LAST)]
        suffix = k // (len(REP_NAMES_FIRST) * len(REP_NAMES_LAST))  # beyond 400 extra reps, numbered namesakes
        name = f"{first} {last}" + (f" {suffix + 1}" if suffix else "")
        team = ("Enterprise", "Mid-Market", "Commercial")[k % 3]
        email = f"{_ascii(first)}.{_ascii(last)}{suffix or ''}@seller.io"
        reps.append(SampleRep(f"rep_{len(REPS) + k + 1:05d}", name, email, team, "Team Lead", styles[k % len(styles)],
                              _gong_user_id(email)))
    return tuple(reps)


def _gong_user_id(email: str) -> str:
    """A 19-digit Gong user id for a generated rep, derived from the email so every writer agrees on it."""
    return f"{zlib.crc32(email.encode()) % 10**9:09d}{zlib.crc32(email[::-1].encode()) % 10**10:010d}"

# Sales engineers who sometimes join a call: (name, email, Gong user id).
COLLEAGUES = (("Nadia Haddad", "nadia@seller.io", "9023847561029384756"),
              ("Ben Okafor", "ben@seller.io", "2987456102938475610"))

FORMAT_SHARES = {"canonical": 0.5, "vtt": 0.25, "gong": 0.25}
ASR_SHARE = 0.30  # calls that read like raw speech recognition
SE_SHARE = 0.15  # calls a sales engineer joins
NAMESAKE_SHARE = 0.04  # calls (not VTT) with a customer who has the rep's name
TURNS = (20, 90)
LONG_SHARE = 0.25  # discovery and demo calls of 30-60 minutes (real calls; issue #11)
LONG_TURNS = (220, 340)
DEMO_SHARE = 0.3  # product answers and proof turns of a long call that grow into a demo monologue
STORY_SHARE = 0.35  # customer stories of a long call that run on
CROSSTALK = 0.08  # turns of a long call that start before the previous one ended
LONG_PAUSE = 0.05  # turns of a long call after a silence of 2.5-9 s ("let me pull that up")
BAD_KINDS = ("invalid-json", "truncated", "no-sidecar", "unknown-format", "empty-transcript", "gong-bad-timestamps")


@dataclass(frozen=True)
class SampleSummary:
    """What ``write_sample`` wrote: per day (ISO date) the file counts by format, calls and bad files.

    ``calls`` counts the clean calls; ``calls_in_bad_files`` counts the readable calls that sit
    beside the broken one in a bad Gong file, so a reader can balance its own counts.
    """

    out_url: str
    seed: int
    days: dict[str, dict[str, int]] = field(default_factory=dict)
    calls: int = 0
    files: int = 0
    bad_files: int = 0


# ---------------------------------------------------------------------------------------------
# Text.
# ---------------------------------------------------------------------------------------------

_SLOT = re.compile(r"\{(\w+)\}")
_PUNCT = re.compile(r"[.,!?;:\"]+(?=\s|$)")
_FILLERS = ("um", "uh", "you know", "like", "um", "uh", "i mean", "so")


def asr_noise(text: str, rng: random.Random) -> str:
    """Make clean text look like speech recognition output.

    Real transcripts are lower case, lose their punctuation, carry fillers and false starts;
    the classifier and the question detector must cope with both kinds of text.
    """
    words = _PUNCT.sub("", text.replace("%", " percent")).lower().split()
    if not words:
        return ""
    out = words[: rng.randint(1, 2)] if len(words) > 3 and rng.random() < 0.15 else []  # false start
    for word in words:
        if rng.random() < 0.07:
            out.append(rng.choice(_FILLERS))
        out.append(word)
    return " ".join(out)


class _Talk:
    """Phrases for one call: slots filled from the call's context, banks drawn without repeats."""

    def __init__(self, rng: random.Random, ctx: Mapping[str, Sequence[str]]):
        self.rng = rng
        self.ctx = ctx
        self.left: dict[str, list] = {}

    def draw(self, bank: str, items: Sequence | None = None) -> Any:
        left = self.left.get(bank)
        if not left:
            left = list(BANKS[bank] if items is None else items)
            self.rng.shuffle(left)
            self.left[bank] = left
        return left.pop()

    def fill(self, template: str) -> str:
        if "{" in template:
            template = _SLOT.sub(lambda m: self.rng.choice(self.ctx[m.group(1)]), template)
        return template[:1].upper() + template[1:]

    def say(self, bank: str) -> str:
        return self.fill(self.draw(bank))


def _rep_turn(talk: _Talk, style: _Style, kind: str) -> str:
    main = talk.say(kind)
    pools = EXPAND.get(kind)
    if not pools:
        return main
    extras = [talk.say(talk.rng.choice(pools)) for _ in range(style.extra.pick(talk.rng))]
    return " ".join([*extras, main])


def _customer_turn(talk: _Talk, kind: str) -> str:
    rng = talk.rng
    if kind == "cust_story":
        parts = [talk.say("cust_answer") for _ in range(rng.choice((2, 3, 3, 4, 4, 5, 6)))]
        if rng.random() < 0.5:
            parts.append(talk.say("cust_continue"))
    elif kind == "cust_answer":
        parts = [talk.say("cust_answer") for _ in range(rng.choice((1, 1, 2)))]
    elif kind == "cust_smalltalk":
        parts = [talk.say(kind), *(talk.say("cust_personal") for _ in range(rng.choice((0, 1, 1, 2))))]
    elif kind == "cust_continue":
        parts = [talk.say(rng.choice(("cust_continue", "cust_answer"))) for _ in range(rng.choice((1, 2, 2, 3)))]
    else:
        parts = [talk.say(kind)]
    if kind in ("cust_story", "cust_answer") and rng.random() < 0.25:
        parts.insert(0, talk.say("cust_lead"))
    return " ".join(parts)


def _dialogue(talk: _Talk, style: _Style, n_turns: int, has_se: bool) -> list[tuple[str, str, str]]:
    """The call as (who, kind, text) turns, who being "rep", "se" or "cust" and kind the bank it came from.

    The seller side and the customers alternate, so nobody has two turns in a row (a VTT
    reader would merge them). Each rep turn's kind decides the customer's reaction, and a
    customer question or request decides the seller's next turn.
    """
    rng = talk.rng
    turns: list[tuple[str, str, str]] = []
    last, answer = "", ""  # the customer's last turn kind; the answer owed to their question

    def exchange(kind: str, text: str | None = None, who: str = "rep", reply: str | None = None) -> None:
        nonlocal last, answer
        turns.append((who, kind, text if text is not None else _rep_turn(talk, style, kind)))
        last, answer = reply or _REPLY_MIX.get(kind, _REPLY_DEFAULT).pick(rng), ""
        if last == "cust_question":
            question, answer = (talk.fill(t) for t in talk.draw("qa", QA))
            turns.append(("cust", last, question))
        else:
            turns.append(("cust", last, _customer_turn(talk, last)))

    def respond(reply: str | None = None) -> None:
        if last == "cust_request":  # a short answer: "Will do." or a hedge
            kind = rng.choice(("trust_willdo", "trust_commit")) if rng.random() < style.keeps_promises \
                else "other_hedge"
            exchange(kind, talk.say(kind), reply=reply)
        elif answer and has_se and rng.random() < 0.6:
            exchange("se_answer", f"{answer} {talk.say('se_answer')}" if rng.random() < 0.4 else answer, who="se",
                     reply=reply)
        elif answer and rng.random() < style.answer_proof:
            exchange("trust_proof", f"{answer} {talk.say('trust_proof')}", reply=reply)
        elif answer:
            more = [talk.say("other_product") for _ in range(style.extra.pick(rng) // 2)]
            exchange("other_answer", " ".join([answer, *more]), reply=reply)
        else:
            kind = style.body.pick(rng)
            while kind in _AFTER_STORY and last not in ("cust_story", "cust_answer", "cust_continue"):
                kind = style.body.pick(rng)
            exchange(kind)

    exchange("rapport_greet" if rng.random() < style.warm else "other_greet")
    for _ in range(rng.randint(0, style.small_talk)):
        exchange("rapport_smalltalk")
    exchange("other_agenda")
    for _ in range((n_turns - len(turns) - 4) // 2):
        respond()
    if last == "cust_request" or answer:  # settle it before saying goodbye
        respond(reply="cust_react")
    if rng.random() < style.close_commit:
        exchange(rng.choice(("trust_recap", "trust_commit")), reply="cust_close")
    else:
        exchange("other_offer", reply="cust_offer")
    exchange("rapport_farewell" if rng.random() < style.warm else "other_farewell", reply="cust_bye")
    return turns


# ---------------------------------------------------------------------------------------------
# Calls.
# ---------------------------------------------------------------------------------------------


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z]", "", folded.lower())


def _person(rng: random.Random, domain: str, name: str | None = None) -> dict[str, str]:
    """A customer at ``domain``, named ``name`` or at random (never a rep's name by accident: only
    the deliberate namesakes, whose utterances carry emails, may share it)."""
    while name is None:
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        name = None if name in _REP_NAMES else name
    first, last = (_ascii(p) for p in name.split(" ", 1))
    local = rng.choice((f"{first}.{last}", f"{first[0]}{last}", first, f"{first}{last[0]}"))
    return {"name": name, "email": f"{local}@{domain}", "role": "customer"}


PII_SHARE = 0.35
"""Calls where a customer reads out contact, card or account details: what redaction must remove."""
SAMPLE_CARDS = ("4111 1111 1111 1111", "5555-5555-5555-4444", "378282246310005", "4012 8888 8888 1881")
"""Payment networks' published test numbers (Luhn-valid, never real accounts)."""


def _contact_details(rng: random.Random, email: str) -> str:
    """A customer sentence with PII in it; phone numbers are in the 555-01xx range reserved for fiction."""
    phone = rng.choice(("({a}) 555-01{n:02d}", "{a}-555-01{n:02d}", "+1 {a} 555 01{n:02d}")).format(
        a=rng.randint(201, 989), n=rng.randint(0, 99))
    return rng.choice((
        f"You can reach me directly at {email} or on {phone}.",
        f"My cell is {phone}, best after three.",
        f"Send the paperwork to {email}.",
        f"For the pilot we can put it on the company card, {rng.choice(SAMPLE_CARDS)}.",
        f"Our account number with you is {rng.randint(10_000_000, 99_999_999)}.",
    ))


def _make_call(rng: random.Random, call_id: str, day: date, fmt: str, long_call: bool = False,
               reps: Sequence[SampleRep] = REPS) -> dict:
    """One canonical call. ``fmt`` only matters for namesakes: a VTT names speakers by display name
    alone, so a customer who shares the rep's name would make that file unreadable."""
    rep = rng.choice(reps)
    style = STYLES[rep.style]
    industry = rng.choice(INDUSTRIES)
    company, domain = rng.choice(industry.companies)
    namesake = fmt != "vtt" and rng.random() < NAMESAKE_SHARE
    customers = [_person(rng, domain, rep.name if namesake and not i else None)
                 for i in range(rng.choice((1, 1, 1, 2, 2, 3)))]
    colleague = rng.choice(COLLEAGUES) if rng.random() < SE_SHARE else None
    ctx = {**SLOTS, "cust": (customers[0]["name"].split()[0],), "me": (rep.name.split()[0],), "company": (company,),
           "industry": (industry.name,), "thing": industry.things, "metric": industry.metrics,
           "tool": (*industry.tools, *SLOTS["tool"]), "peer": industry.peers,
           "se": ((colleague or rng.choice(COLLEAGUES))[0].split()[0],)}
    talk = _Talk(rng, ctx)
    n_turns = rng.randint(*LONG_TURNS) if long_call else rng.randint(TURNS[0], TURNS[1] - 2)  # 2: settling
    turns = _dialogue(talk, style, n_turns, colleague is not None)
    if long_call:
        turns = _lengthen(talk, turns)
    asr = rng.random() < ASR_SHARE
    speaking = customers[: max(1, len(customers) - (rng.random() < 0.3))]  # sometimes one customer stays silent
    se = {"name": colleague[0], "email": colleague[1], "role": "internal"} if colleague else None
    people = {"rep": {"name": rep.name, "email": rep.email, "role": "rep"}, "se": se}
    rates = {p["email"]: rng.uniform(2.2, 2.8) for p in customers}
    utterances = []
    t = rng.uniform(0.0, 2.5)
    pii = random.Random(f"pii:{call_id}")  # its own stream: the rest of the sample is as before
    cust_turns = [i for i, (who, _, _) in enumerate(turns) if who == "cust" and i >= 2]
    contact_at = pii.choice(cust_turns) if cust_turns and pii.random() < PII_SHARE else -1
    for i, (who, _, text) in enumerate(turns):
        person = people[who] if who != "cust" else (speaking[0] if rng.random() < 0.7 else rng.choice(speaking))
        if asr:
            text = asr_noise(text, rng)
        if i == contact_at:
            text = f"{text} {_contact_details(pii, person['email'])}"
        words = len(text.split())
        rate = style.rate if who == "rep" else rates.get(person["email"], 2.5)
        if i and long_call and rng.random() < CROSSTALK:
            t = max(utterances[-1]["start"] + 0.2, t - rng.uniform(0.2, 0.8))  # starts over the last words
        elif i:
            t += rng.uniform(*style.pause) if who == "rep" else rng.uniform(0.3, 1.2)
            if long_call and rng.random() < LONG_PAUSE:
                t += rng.uniform(2.5, 9.0)
        start = round(t, 3)
        t = round(start + max(0.4, words / rate * rng.uniform(0.9, 1.1) + 0.2), 3)
        utterance = {"speaker": person["name"], "start": start, "end": t, "text": text}
        if namesake:
            utterance["speaker_email"] = person["email"]
        utterances.append(utterance)
    started = datetime(day.year, day.month, day.day, rng.randint(13, 22), rng.choice((0, 0, 0, 15, 30, 30, 45)),
                       tzinfo=UTC) + timedelta(seconds=rng.randint(0, 150))
    participants = [people["rep"], *customers, *([se] if se else [])]
    return {"call_id": call_id, "started_at": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration_s": round(t + rng.uniform(3.0, 25.0), 1), "title": talk.fill(rng.choice(TITLES)),
            "rep": {"id": rep.rep_id, "name": rep.name, "email": rep.email, "team": rep.team},
            "participants": [dict(p) for p in participants], "utterances": utterances}


def _lengthen(talk: _Talk, turns: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Give a long call its real shape: demo monologues of 120-400 words and customer stories that run on."""
    rng = talk.rng
    out = []
    for who, kind, text in turns:
        if who == "rep" and kind.startswith(("other_product", "other_answer", "trust_proof")) and \
                rng.random() < DEMO_SHARE:
            parts = [text]
            while len(" ".join(parts).split()) < rng.randint(120, 400):
                parts.append(talk.say(rng.choice(("other_product", "other_product", "other_pitchcheck",
                                                   "trust_proof", "other_pricing"))))
            text = " ".join(parts)
        elif who == "cust" and kind == "cust_story" and rng.random() < STORY_SHARE:
            text = " ".join([text, *(talk.say("cust_answer") for _ in range(rng.randint(3, 8)))])
        out.append((who, kind, text))
    return out


def _day_seed(seed: int, day: date, purpose: str = "calls") -> int:
    return zlib.crc32(f"{seed}:{day.isoformat()}:{purpose}".encode())


def _plan_day(day: date, n: int, seed: int, calls_per_rep: int | None = None) -> list[tuple[str, dict]]:
    """The day's calls, each with the format it will be written in (decided first: ids depend on it)."""
    if n < 0:
        raise ValueError(f"the number of calls must be >= 0, got {n}")
    rng = random.Random(_day_seed(seed, day))
    n_vtt, n_gong = round(n * FORMAT_SHARES["vtt"]), round(n * FORMAT_SHARES["gong"])
    formats = ["vtt"] * n_vtt + ["gong"] * n_gong + ["canonical"] * (n - n_vtt - n_gong)
    rng.shuffle(formats)
    lengths = [True] * round(n * LONG_SHARE) + [False] * (n - round(n * LONG_SHARE))  # a fixed share is long
    rng.shuffle(lengths)
    plan = []
    reps = rep_pool(n, calls_per_rep)
    for i, (fmt, long_call) in enumerate(zip(formats, lengths, strict=True), start=1):
        call_id = (_gong_id(rng, day, i, "7") if fmt == "gong"
                   else f"c-{day:%Y%m%d}-{i:05d}-{rng.getrandbits(24):06x}")
        plan.append((fmt, _make_call(rng, call_id, day, fmt, long_call, reps)))
    return plan


def _gong_id(rng: random.Random, day: date, i: int, lead: str) -> str:
    """Gong's 19-digit call id; the date and index keep it unique across days."""
    return f"{lead}{day:%y%m%d}{i:05d}{rng.randrange(10**7):07d}"


def generate_calls(day: date, n: int, seed: int) -> list[dict]:
    """The ``n`` clean calls of ``day`` as canonical dicts: exactly what ``write_sample`` renders.

    Canonical dict: ``call_id``, ``started_at`` (ISO, UTC), ``duration_s``, ``title``,
    ``rep`` (id, name, email, team), ``participants`` (name, email, role) and ``utterances``
    (speaker, start, end in seconds, text; plus ``speaker_email`` when a customer shares the
    rep's name). Calls rendered as Gong exports carry Gong's numeric ids.
    """
    return [call for _, call in _plan_day(day, n, seed)]


def sample_rep_turns(n: int, seed: int = 7) -> list[str]:
    """``n`` rep-turn texts with the length and style mix of real calls, for benchmarks.

    Drawn from whole generated calls of every rep (then shuffled), so backchannels, questions
    and long monologues appear in the proportions the pipeline will see.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(zlib.crc32(f"{seed}:rep-turns".encode()))
    texts: list[str] = []
    while len(texts) < n:
        call = _make_call(rng, "c-bench", date(2026, 1, 5), "canonical")
        rep = call["rep"]
        texts.extend(u["text"] for u in call["utterances"]
                     if u["speaker"] == rep["name"] and u.get("speaker_email", rep["email"]) == rep["email"])
    rng.shuffle(texts)
    return texts[:n]


# ---------------------------------------------------------------------------------------------
# Rendering.
# ---------------------------------------------------------------------------------------------


def _json_bytes(doc: Any, indent: int | None = 2) -> bytes:
    return (json.dumps(doc, ensure_ascii=False, indent=indent) + "\n").encode()


def _sidecar(call: Mapping) -> dict:
    return {k: v for k, v in call.items() if k != "utterances"}


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _ts(ms: int) -> str:
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def _timed(chunks: Sequence[str], start: int, end: int) -> list[tuple[str, int, int]]:
    """Share a turn's time (ms) among its pieces (cues, sentences) in proportion to their words."""
    total = sum(len(c.split()) for c in chunks) or 1
    out, done = [], 0
    for chunk in chunks:
        a = start + (end - start) * done // total
        done += len(chunk.split())
        out.append((chunk, a, start + (end - start) * done // total))
    return out


_VTT_NOTES = {
    "zoom": ("NOTE\nZoom cloud recording transcript. Speaker names come from the meeting roster.",),
    "teams": ("NOTE\nTranscribed by Microsoft Teams. Speaker attribution may be inaccurate.",),
    "meet": ("NOTE Transcript generated by Google Meet",),
}
_MID_NOTES = ("NOTE recording paused", "NOTE low confidence segment", "NOTE\nspeaker audio dropped briefly")


def _guid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _vtt(call: Mapping, rng: random.Random, dialect: str) -> bytes:
    """Render a call as the WebVTT that Zoom, Teams or Meet exports; long turns span several cues."""
    size = rng.randint(*{"zoom": (10, 18), "teams": (14, 26), "meet": (18, 32)}[dialect])
    blocks = ["WEBVTT"]
    if rng.random() < 0.6:
        blocks.append(rng.choice(_VTT_NOTES[dialect]))
    cue = 0
    for turn, u in enumerate(call["utterances"]):
        if turn and rng.random() < 0.02:
            blocks.append(rng.choice(_MID_NOTES))
        guid = _guid(rng) if dialect == "teams" else ""
        words = u["text"].split()
        chunks = [" ".join(words[i:i + size]) for i in range(0, len(words), size)]
        for j, (text, a, b) in enumerate(_timed(chunks, _ms(u["start"]), _ms(u["end"]))):
            cue += 1
            cut = text.split(" ")
            if len(cut) > 8 and rng.random() < 0.3:  # a cue text wrapped over two lines
                text = " ".join(cut[: len(cut) // 2]) + "\n" + " ".join(cut[len(cut) // 2:])
            body = {"zoom": f"{u['speaker']}: {text}", "teams": f"<v {u['speaker']}>{text}</v>",
                    "meet": f"({u['speaker']})\n{text}"}[dialect]  # Meet: the speaker on a (Name) line
            ident = {"zoom": f"{cue}\n", "teams": f"{guid}/{turn + 1}-{j}\n", "meet": ""}[dialect]
            blocks.append(f"{ident}{_ts(a)} --> {_ts(b)}\n{body}")
    text = "\n\n".join(blocks) + "\n"
    if dialect == "teams":
        if rng.random() < 0.5:
            text = text.replace("\n", "\r\n")
        if rng.random() < 0.5:
            text = "\ufeff" + text
    return text.encode()


_SENTENCE = re.compile(r"(?<=[.?!])\s+")


def _sentences(text: str, rng: random.Random) -> list[str]:
    """Split a monologue into 1-4 sentences as Gong does (by word runs when there is no punctuation)."""
    parts = _SENTENCE.split(text)
    if len(parts) == 1:
        words = text.split()
        size = rng.randint(8, 20)
        parts = [" ".join(words[i:i + size]) for i in range(0, len(words), size)] or [text]
    step = -(-len(parts) // 4)
    return [" ".join(parts[i:i + step]) for i in range(0, len(parts), step)]


def _topic(i: int, n: int, text: str) -> str:
    if i < 3:
        return "Call Setup"
    if i >= n - 4:
        return "Next Steps"
    if "pric" in text.lower() or "budget" in text.lower():
        return "Pricing"
    return ("Discovery", "Pain Points", "Product", "Integration", "Implementation")[min(4, 5 * i // n)]


def _gong_call(call: Mapping, rng: random.Random) -> tuple[dict, dict]:
    """One call as Gong's ``calls`` entry and ``callTranscripts`` entry; times in milliseconds."""
    gong_users = {r.email: r.gong_user_id for r in REPS} | {email: uid for _, email, uid in COLLEAGUES}

    def user_id(email: str) -> str:  # a named rep's or colleague's fixed id, else a generated rep's (rep_pool)
        return gong_users.get(email) or _gong_user_id(email)

    parties, speaker_ids = [], {}
    for p in call["participants"]:
        sid = str(rng.randrange(10**18, 10**19))
        speaker_ids[p["email"]] = sid
        speaker_ids.setdefault(p["name"], sid)
        party = {"id": str(rng.randrange(10**18, 10**19)), "emailAddress": p["email"], "name": p["name"],
                 "speakerId": sid, "affiliation": "External" if p["role"] == "customer" else "Internal",
                 "methods": ["Invitee"]}
        if p["role"] != "customer":
            party["userId"] = user_id(p["email"])
        parties.append(party)
    meta = {"id": call["call_id"], "url": f"https://app.gong.io/call?id={call['call_id']}", "title": call["title"],
            "scheduled": call["started_at"][:14] + "00:00Z", "started": call["started_at"],
            "duration": round(call["duration_s"]), "primaryUserId": user_id(call["rep"]["email"]),
            "direction": "Conference", "system": rng.choice(("Zoom", "Google Meet", "Microsoft Teams")),
            "scope": "External", "media": "Video", "language": "eng"}
    monologues = []
    n = len(call["utterances"])
    for i, u in enumerate(call["utterances"]):
        sid = speaker_ids[u.get("speaker_email") or u["speaker"]]
        sentences = [{"start": a, "end": b, "text": text}
                     for text, a, b in _timed(_sentences(u["text"], rng), _ms(u["start"]), _ms(u["end"]))]
        monologues.append({"speakerId": sid, "topic": _topic(i, n, u["text"]), "sentences": sentences})
    return ({"metaData": meta, "parties": parties},
            {"callId": call["call_id"], "transcript": monologues})


def _gong_export(calls: Sequence[Mapping], rng: random.Random) -> dict:
    entries = [_gong_call(c, rng) for c in calls]
    request_id = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(20))
    return {"requestId": request_id,
            "records": {"totalRecords": len(calls), "currentPageSize": len(calls), "currentPageNumber": 0},
            "calls": [meta for meta, _ in entries], "callTranscripts": [t for _, t in entries]}


# ---------------------------------------------------------------------------------------------
# Writing.
# ---------------------------------------------------------------------------------------------


class _Writer:
    """Writes files below one day folder through fsspec and counts them by kind."""

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str):
        self.fs, self.root = fs, root
        self.dirs: set[str] = set()
        self.counts = {"canonical": 0, "vtt": 0, "sidecar": 0, "gong": 0, "bad": 0}

    def put(self, rel: str, data: bytes, kind: str) -> None:
        path = posixpath.join(self.root, rel)
        folder = posixpath.dirname(path)
        if folder not in self.dirs:
            self.fs.makedirs(folder, exist_ok=True)
            self.dirs.add(folder)
        with self.fs.open(path, "wb") as fh:
            fh.write(data)
        self.counts[kind] += 1


def _rep_folder(call: Mapping) -> str:
    return call["rep"]["email"].split("@")[0]


def _write_vtt(w: _Writer, call: Mapping, rng: random.Random, stem: str | None = None, sidecar: bool = True,
               kind: str = "vtt") -> None:
    dialect = rng.choices(("zoom", "teams", "meet"), (5, 3, 2))[0]
    rel = f"{dialect}/{_rep_folder(call)}/{stem or call['call_id']}"
    w.put(f"{rel}.vtt", _vtt(call, rng, dialect), kind)
    if sidecar:
        w.put(f"{rel}.meta.json", _json_bytes(_sidecar(call)), "sidecar")


def _docx(text: str) -> bytes:
    """A minimal Word document: the kind of file that lands by mistake."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, body in (("[Content_Types].xml", '<?xml version="1.0"?><Types/>'),
                           ("word/document.xml", f'<?xml version="1.0"?><w:document><w:t>{text}</w:t></w:document>')):
            zf.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), body)
    return buf.getvalue()


def _write_bad(w: _Writer, day: date, seed: int, count: int, first_kind: int) -> int:
    """Write ``count`` deliberately malformed files, cycling through BAD_KINDS from ``first_kind``.

    Returns how many readable calls they hold (the good neighbours in a bad Gong export).
    """
    rng = random.Random(_day_seed(seed, day, "bad"))
    seen: dict[str, int] = {}
    readable = 0
    for k in range(count):
        cycle, index = divmod(first_kind + k, len(BAD_KINDS))
        kind = BAD_KINDS[index]
        seen[kind] = seen.get(kind, 0) + 1
        stem = f"bad-{kind}-{seen[kind]:02d}"
        call = _make_call(rng, f"c-{day:%Y%m%d}-{stem}", day, "canonical")
        if kind == "invalid-json":  # commas lost in a hand edit: the error is mid-file, not at its end
            w.put(f"crm/{stem}.json", _json_bytes(call).replace(b'",\n', b'"\n', 3), "bad")
        elif kind == "truncated":
            data = _json_bytes(call)
            w.put(f"crm/{stem}.json", data[: len(data) * rng.randint(30, 70) // 100], "bad")
        elif kind == "no-sidecar":
            _write_vtt(w, call, rng, stem, sidecar=False, kind="bad")
        elif kind == "unknown-format":
            notes = f"Meeting notes, {call['title']}\n- pain: manual work\n- next: send pricing\n"
            if cycle % 2:
                w.put(f"crm/{stem}.docx", _docx(notes), "bad")
            else:
                w.put(f"crm/{stem}.txt", notes.encode(), "bad")
        elif kind == "empty-transcript":
            w.put(f"crm/{stem}.json", _json_bytes({**call, "utterances": []}), "bad")
        else:  # one call of three has a monologue whose sentence starts go backwards
            calls = [_make_call(rng, _gong_id(rng, day, 90000 + 3 * k + j, "8"), day, "gong") for j in range(3)]
            doc = _gong_export(calls, rng)
            monologues = doc["callTranscripts"][1]["transcript"]
            mono = max(monologues, key=lambda m: len(m["sentences"]))
            if len(mono["sentences"]) < 2:
                mono["sentences"].append(dict(mono["sentences"][0], text="and then"))
            first, second = mono["sentences"][0], mono["sentences"][1]
            first["start"], second["start"] = second["start"] + 1, first["start"]
            w.put(f"gong/{stem}.json", _json_bytes(doc, indent=None), "bad")
            readable += 2
    return readable


def write_sample(out_url: str, dates: Sequence[date], calls_per_day: int, seed: int = 7,
                 bad_files_per_day: int = 0, calls_per_rep: int | None = None) -> SampleSummary:
    """Write synthetic calls into a landing zone, one ``<out>/YYYY-MM-DD/`` folder per day.

    Canonical JSON goes to ``crm/``, WebVTT plus sidecar to ``zoom|teams|meet/<rep>/`` and Gong
    exports to ``gong/export-NNN.json``. Bad files (``bad-<kind>-NN``) are added only when
    ``bad_files_per_day`` > 0, so a clean sample never trips quarantine by accident; their kinds
    continue the cycle from one day to the next, so a short demo still shows several kinds.
    ``calls_per_rep`` spreads a large day over more reps (``rep_pool``); None keeps the eight.

    Raises:
        ValueError: no dates, repeated dates (call ids would repeat) or negative counts.
    """
    if not dates:
        raise ValueError("dates is empty: give at least one day")
    if len(set(dates)) != len(dates):
        raise ValueError("dates repeat: each day is written once")
    if calls_per_day < 0 or bad_files_per_day < 0:
        raise ValueError(f"counts must be >= 0: calls_per_day={calls_per_day}, bad_files_per_day={bad_files_per_day}")
    fs, root = fsspec.core.url_to_fs(out_url)
    days: dict[str, dict[str, int]] = {}
    for d_index, day in enumerate(dates):
        w = _Writer(fs, posixpath.join(root.rstrip("/"), day.isoformat()))
        rng = random.Random(_day_seed(seed, day, "render"))
        gong: list[dict] = []
        for fmt, call in _plan_day(day, calls_per_day, seed, calls_per_rep):
            if fmt == "canonical":
                w.put(f"crm/{call['call_id']}.json", _json_bytes(call), "canonical")
            elif fmt == "vtt":
                _write_vtt(w, call, rng)
            else:
                gong.append(call)
        start = 0
        while start < len(gong):
            size = rng.randint(5, 15)
            export = _gong_export(gong[start:start + size], rng)
            w.put(f"gong/export-{w.counts['gong'] + 1:03d}.json", _json_bytes(export, indent=None), "gong")
            start += size
        readable = _write_bad(w, day, seed, bad_files_per_day, d_index * bad_files_per_day)
        days[day.isoformat()] = {**w.counts, "calls": calls_per_day, "calls_in_bad_files": readable,
                                 "files": sum(w.counts.values())}
        log.info("sample day %s: %d calls in %d files (%d bad)", day, calls_per_day, days[day.isoformat()]["files"],
                 w.counts["bad"])
    return SampleSummary(out_url=out_url, seed=seed, days=days, calls=sum(d["calls"] for d in days.values()),
                         files=sum(d["files"] for d in days.values()),
                         bad_files=sum(d["bad"] for d in days.values()))


def write_roster(url: str, reps: Sequence[SampleRep] = REPS) -> None:
    """Write the sample reps' roster (``rep_id,name,email,team,manager``), which attributes Gong calls
    (matched by email) and adds managers to the scorecards."""
    fs, path = fsspec.core.url_to_fs(url)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(("rep_id", "name", "email", "team", "manager"))
    writer.writerows((r.rep_id, r.name, r.email, r.team, r.manager) for r in reps)
    parent = posixpath.dirname(path)
    if parent:
        fs.makedirs(parent, exist_ok=True)
    with fs.open(path, "wb") as fh:
        fh.write(buf.getvalue().encode())
