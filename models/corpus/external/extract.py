#!/usr/bin/env python3
"""Rebuild the external sales-call evaluation set (callscore) from source files.

Reads data files only:
  * git mirrors under /work/.mirror/<owner>+<name>/repo  (read with `git show COMMIT:PATH`)
  * verbatim copies under ./raw/<owner>+<name>/<path>     (for repos that could not be mirrored)
Never executes code from the fetched repositories (python/ts sources are parsed as text).

Writes: sources.json, turns.jsonl, calls.jsonl (next to this script).
Usage:  python3 extract.py [--mirror /work/.mirror]
"""
import argparse
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RAW = os.path.join(HERE, "raw")
MIRROR = "/work/.mirror"
USE_RAW_ONLY = False


# ----------------------------------------------------------------------------- reading
def read_source(repo, commit, path, raw=False):
    """Mirror first (git show COMMIT:PATH); fall back to the verbatim copy in raw/."""
    slug = repo.replace("/", "+")
    gitdir = os.path.join(MIRROR, slug, "repo")
    if not raw and os.path.isdir(gitdir) and not USE_RAW_ONLY:
        out = subprocess.run(["git", "--git-dir", gitdir, "show", f"{commit}:{path}"],
                             check=True, capture_output=True)
        return out.stdout.decode("utf-8")
    with open(os.path.join(RAW, slug, path), encoding="utf-8") as f:
        return f.read()


def export_raw(sources):
    """Copy every mirror-sourced file used into raw/<owner>+<name>/<path> (byte-exact)."""
    for src in sources:
        if src.get("raw"):
            continue
        slug = src["repo"].replace("/", "+")
        gitdir = os.path.join(MIRROR, slug, "repo")
        for p in src["files"]:
            out = subprocess.run(["git", "--git-dir", gitdir, "show", f"{src['commit']}:{p}"],
                                 check=True, capture_output=True).stdout
            dest = os.path.join(RAW, slug, p)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with open(dest, "wb") as f:
                f.write(out)


def norm(s):
    return re.sub(r"\s+", " ", s).strip()


# ----------------------------------------------------------------------------- parsing
ANNOT = re.compile(r"^\*?\[[^\]]*\]\*?$")  # whole-line stage direction, e.g. [Call ends] / *[Demo ...]*


def parse_labeled(lines, label_re, role_of, stop_re=None, skip_re=None):
    """Generic speaker-labelled transcript parser.

    label_re: regex with groups (label, text); label must be a key accepted by role_of.
    role_of:  function label -> 'rep' | 'customer' | None (None = not a speaker label).
    Unlabelled non-blank lines continue the previous turn; whole-line [stage directions]
    become role 'other'. Lines before the first speaker turn (headers) are ignored.
    """
    turns = []
    for raw_line in lines:
        line = raw_line.rstrip("\n")
        s = line.strip()
        if stop_re is not None and stop_re.search(s):
            break
        if not s:
            continue
        if skip_re is not None and skip_re.search(s):
            continue
        if re.match(r"^(-{3,}|={3,}|`{3,}.*)$", s):  # markdown rules / code fences
            continue
        m = label_re.match(s)
        if m and role_of(m.group(1)) is not None:
            label = norm(m.group(1))
            turns.append({"speaker": label, "role": role_of(m.group(1)), "text": m.group(2)})
            continue
        if ANNOT.match(s):
            if turns:
                turns.append({"speaker": "[annotation]", "role": "other", "text": s})
            continue
        if turns and turns[-1]["role"] != "other":
            turns[-1]["text"] += "\n" + s
    out = []
    for t in turns:
        t["text"] = norm(t["text"])
        if t["text"]:
            out.append(t)
    # drop trailing annotations
    while out and out[-1]["role"] == "other":
        out.pop()
    return out


def roles_from(rep, cust):
    rep = set(rep)
    cust = set(cust)

    def f(label):
        label = norm(label)
        if label in rep:
            return "rep"
        if label in cust:
            return "customer"
        return None
    return f


def between(text, start_re, end_re=None):
    m = re.search(start_re, text, re.M)
    text = text[m.end():] if m else text
    if end_re:
        m2 = re.search(end_re, text, re.M)
        if m2:
            text = text[:m2.start()]
    return text


BOLD = re.compile(r"^\*\*([^*]+?):\*\*\s*(.*)$")          # **Name:** text
PLAIN = lambda names: re.compile(r"^(" + "|".join(re.escape(n) for n in names) + r"):\s*(.*)$")


# ----------------------------------------------------------------------------- per-source loaders
def load_tribeai(src):
    calls = []
    for p in src["files"]:
        text = read_source(src["repo"], src["commit"], p)
        reps, custs = set(), set()
        for m in re.finditer(r"^- ([^()\n]+?) \(([^)]*)\)\s*$", text, re.M):
            first = m.group(1).split()[0]
            (reps if "TribeAI" in m.group(2) else custs).add(first)
        body = between(text, r"^---\s*$", r"^---\s*$")
        turns = parse_labeled(body.splitlines(), BOLD, roles_from(reps, custs))
        calls.append((p, turns))
    return calls


def load_roadchimp(src):
    text = read_source(src["repo"], src["commit"], src["files"][0])
    calls = []
    parts = re.split(r"^### Call Transcript #", text, flags=re.M)[1:]
    lab = re.compile(r"^\*\*([A-Z_]+)\*\*:\s*(.*)$")
    role = lambda l: "rep" if l == "REP" else ("customer" if l.startswith("PROSPECT") else None)
    for i, part in enumerate(parts, 1):
        title = part.splitlines()[0].strip()
        body = between(part, r"^---\s*$", r"^### ")
        calls.append((f"{src['files'][0]}#call{i} ({title})", parse_labeled(body.splitlines(), lab, role)))
    return calls


def simple_loader(label_re, rep, cust, start_re=None, end_re=None, stop_re=None, skip_re=None):
    def load(src):
        calls = []
        for p in src["files"]:
            text = read_source(src["repo"], src["commit"], p, raw=src.get("raw", False))
            if start_re or end_re:
                text = between(text, start_re or r"\A", end_re)
            turns = parse_labeled(text.splitlines(), label_re, roles_from(rep, cust),
                                  stop_re=stop_re, skip_re=skip_re)
            calls.append((p, turns))
        return calls
    return load


def load_leadscore(src):
    text = read_source(src["repo"], src["commit"], src["files"][0])
    calls = []
    lab = PLAIN(["Sales Rep", "Prospect"])
    role = roles_from(["Sales Rep"], ["Prospect"])
    for m in re.finditer(r'^    "(\w+)": \{\s*\n\s*"title": .*?\n\s*"conversation": """(.*?)"""', text, re.M | re.S):
        calls.append((f"{src['files'][0]}#DEMO_CONVERSATIONS[{m.group(1)}]",
                      parse_labeled(m.group(2).splitlines(), lab, role)))
    m = re.search(r'^QUICK_TEST_CONVERSATION = """(.*?)"""', text, re.M | re.S)
    if m:
        calls.append((f"{src['files'][0]}#QUICK_TEST_CONVERSATION", parse_labeled(m.group(1).splitlines(), lab, role)))
    return calls


def load_momentum(src):
    calls = []
    lab = re.compile(r"^\d\d:\d\d:\d\d\s+((?:Sam|Satya)\s+\((?:openai|microsoft)\.com\)):\s*(.*)$")
    role = lambda l: {"Satya (microsoft.com)": "rep", "Sam (openai.com)": "customer"}.get(norm(l))
    for p in src["files"]:
        text = read_source(src["repo"], src["commit"], p)
        segs = re.split(r"^\d\d:\d\d:\d\d \(START CALL\)\s*$", text, flags=re.M)
        for j, seg in enumerate(segs, 1):
            seg = re.sub(r"^\d\d:\d\d:\d\d \(END CALL\)\s*$", "", seg, flags=re.M)
            turns = parse_labeled(seg.splitlines(), lab, role)
            if turns:
                calls.append((f"{p}#segment{j}", turns))
    return calls


def load_premai_jsonl(src):
    text = read_source(src["repo"], src["commit"], src["files"][0])
    rows = [json.loads(l) for l in text.splitlines() if l.strip()]
    lab = PLAIN(["Sales Rep", "Customer"])
    role = roles_from(["Sales Rep"], ["Customer"])
    calls = []
    for idx in src["rows"]:
        user = [m for m in rows[idx]["messages"] if m["role"] == "user"][0]["content"]
        calls.append((f"{src['files'][0]}#line{idx + 1}", parse_labeled(user.splitlines(), lab, role)))
    return calls


LOADERS = {
    "tribeai": load_tribeai,
    "roadchimp": load_roadchimp,
    "revopsvault": simple_loader(BOLD, ["David"], ["Sarah"], start_re=r"^\*\*Duration:\*\*.*\n\s*\n---\s*$"),
    "premai_txt": simple_loader(PLAIN(["Sales Rep", "Customer"]), ["Sales Rep"], ["Customer"]),
    "premai_jsonl": load_premai_jsonl,
    "bshimes12": simple_loader(PLAIN(["Alex", "Lisa"]), ["Alex"], ["Lisa"]),
    "amangupta62": simple_loader(re.compile(r"^\[\d\d:\d\d\]\s+(Sarah|Mike):\s*(.*)$"), ["Sarah"], ["Mike"],
                                 start_re=r"^## .*Raw Audio Transcription", end_re=r"^## .*AI-Powered Analysis",
                                 skip_re=re.compile(r"^(```|#)")),
    "leadscore": load_leadscore,
    "recursivellm": simple_loader(re.compile(r"^\[\d\d:\d\d\]\s+(Sarah|Michael):\s*(.*)$"), ["Sarah"], ["Michael"],
                                  start_re=r"^export const longCallTranscript = `", end_re=r"^\[END OF TRANSCRIPT\]"),
    "momentum": load_momentum,
    "aimeetingsum": simple_loader(re.compile(r"^((?:Mark|Jennifer)(?: \([^)]*\))?):\s*(.*)$"),
                                  ["Mark", "Mark (Sales Rep)"], ["Jennifer", "Jennifer (Prospect - VP of Operations)"]),
    "pyrex": simple_loader(PLAIN(["Rep", "Sarah Chen"]), ["Rep"], ["Sarah Chen"]),
    "amiralek": simple_loader(PLAIN(["Sarah", "James Whitfield"]), ["Sarah"], ["James Whitfield"]),
    "rokenobi": simple_loader(re.compile(r"^\[\d\d:\d\d:\d\d\]\s+(Rep \(Marcus\)|Client \(David\)|Client \(Sarah\)):\s*(.*)$"),
                              ["Rep (Marcus)"], ["Client (David)", "Client (Sarah)"]),
    "taydenb": simple_loader(PLAIN(["Tayden", "Priya", "Dan"]), ["Tayden"], ["Priya", "Dan"]),
    "duytran": simple_loader(BOLD, ["Jane"], ["John"], stop_re=re.compile(r"^## Next Steps")),
    "calllens": simple_loader(re.compile(r"^\d\d:\d\d\s+(REP|CUSTOMER):\s*(.*)$"), ["REP"], ["CUSTOMER"]),
    "salesroom": simple_loader(PLAIN(["John Smith", "Sarah Johnson", "Michael Chen"]), ["John Smith"],
                               ["Sarah Johnson", "Michael Chen"]),
    "crework": simple_loader(PLAIN(["Sales Rep", "Client"]), ["Sales Rep"], ["Client"]),
}

NSTONNY_FILES = {
    # path -> (rep, [customers], commit)
    "src/data/transcripts/transcript_1_saas_discovery.txt": ("Sarah", ["Marcus"], "9ee47fbef5c34e5b9153f5c48e755a2c5cda5018"),
    "src/data/transcripts/realistic_training/transcript_3_hrtech_lost.txt": ("Priya", ["Tom"], "132057ff011254c28dab1e09f83c34851f5bdc3d"),
    "src/data/transcripts/realistic_training/transcript_5_manufacturing_renewal.txt": ("Claire", ["Steve"], "132057ff011254c28dab1e09f83c34851f5bdc3d"),
    "src/data/transcripts/stress-test/transcript_7_price_cave.txt": ("Lauren", ["Chris"], "132057ff011254c28dab1e09f83c34851f5bdc3d"),
    "src/data/transcripts/stress-test/transcript_8_wrong_stakeholder.txt": ("Marcus", ["Jenny"], "132057ff011254c28dab1e09f83c34851f5bdc3d"),
    "src/data/transcripts/stress-test/transcript_9_hostile_prospect.txt": ("Danny", ["Robert"], "132057ff011254c28dab1e09f83c34851f5bdc3d"),
    "src/data/transcripts/stress-test/transcript_10_bad_discovery.txt": ("Natalie", ["Paul"], "132057ff011254c28dab1e09f83c34851f5bdc3d"),
    "src/data/transcripts/stress-test/transcript_6_overpitch_mistake.txt": ("Brad", ["Diane"], "132057ff011254c28dab1e09f83c34851f5bdc3d"),
}


def load_nstonny(src):
    calls = []
    for p in src["files"]:
        rep, custs, _commit = NSTONNY_FILES[p]
        text = read_source(src["repo"], None, p, raw=True)
        body = between(text, r"^=+\s*\n(?:.*\n)*?=+\s*$")  # skip the ==== header block
        turns = parse_labeled(body.splitlines(), PLAIN([rep] + custs), roles_from([rep], custs),
                              stop_re=re.compile(r"^\[(Follow-up note|Call ends)"))
        calls.append((p, turns))
    return calls


LOADERS["nstonny"] = load_nstonny


# ----------------------------------------------------------------------------- main
def main():
    global MIRROR, USE_RAW_ONLY
    ap = argparse.ArgumentParser()
    ap.add_argument("--mirror", default=MIRROR)
    ap.add_argument("--raw-only", action="store_true", help="ignore mirrors, read only raw/ copies")
    ap.add_argument("--export-raw", action="store_true", help="refresh raw/ copies from the mirrors first")
    args = ap.parse_args()
    MIRROR = args.mirror
    USE_RAW_ONLY = args.raw_only
    with open(os.path.join(HERE, "sources_config.json"), encoding="utf-8") as f:
        sources = json.load(f)
    if args.export_raw:
        export_raw(sources)

    all_calls, all_turns, summary = [], [], []
    for src in sources:
        calls = LOADERS[src["source_id"]](src)
        n_rep = 0
        for ci, (name, turns) in enumerate(calls):
            call_id = f"{src['source_id']}:{ci}"
            rec = {"source_id": src["source_id"], "call_id": call_id, "repo": src["repo"],
                   "origin": name, "turns": []}
            last_cust = ""
            for ti, t in enumerate(turns):
                rec["turns"].append({"turn_index": ti, "speaker": t["speaker"], "role": t["role"], "text": t["text"]})
                if t["role"] == "customer":
                    last_cust = t["text"]
                elif t["role"] == "rep":
                    all_turns.append({"id": f"{src['source_id']}:{ci}:{ti}", "source_id": src["source_id"],
                                      "call_id": call_id, "turn_index": ti, "text": t["text"],
                                      "context": last_cust, "speaker": t["speaker"]})
                    n_rep += 1
            all_calls.append(rec)
        out = {k: src[k] for k in ("source_id", "repo", "commit", "path", "licence", "kind")}
        out["files"] = src["files"]
        out["calls"] = len(calls)
        out["rep_turns"] = n_rep
        out["notes"] = src["notes"]
        if "rows" in src:
            out["rows_used"] = src["rows"]
        summary.append(out)

    with open(os.path.join(HERE, "calls.jsonl"), "w", encoding="utf-8") as f:
        for c in all_calls:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    with open(os.path.join(HERE, "turns.jsonl"), "w", encoding="utf-8") as f:
        for t in all_turns:
            f.write(json.dumps(t, ensure_ascii=False) + "\n")
    with open(os.path.join(HERE, "sources.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, ensure_ascii=False, indent=2)
    tot = sum(s["rep_turns"] for s in summary)
    print(f"{len(summary)} sources, {len(all_calls)} calls, {tot} rep turns")
    by_repo = {}
    for s in summary:
        by_repo[s["repo"]] = by_repo.get(s["repo"], 0) + s["rep_turns"]
    for s in summary:
        print(f"  {s['source_id']:15s} calls={s['calls']:3d} rep_turns={s['rep_turns']:4d}")
    for r, n in sorted(by_repo.items(), key=lambda x: -x[1]):
        print(f"  {r:55s} {n:4d} ({100 * n / tot:.1f}%)")


if __name__ == "__main__":
    sys.exit(main())
