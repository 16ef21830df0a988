"""Benchmark: supervision candidates over 100,000 tickets, against the all-pairs baseline.

    python -m bench.bench_candidates [--tickets 100000] [--sample 5000]

Builds a SQLite database of synthetic tickets, all received within the 90-day window (so
every ticket is analysed), with the shapes the rules look for: specific, nested, vague and
missing addresses; repeated complaints reworded; concentrated complaints by many callers;
copy-pasted wording at different places. Prints:
- `find_candidates` end to end (load + group + rules) on all tickets — target < 10 s;
- the grouping step on all tickets, and the all-pairs baseline (every pair's bigram
  Jaccard + the same-matter rule) on a sample, extrapolated by the number of pairs —
  target ratio ≥ 20×;
- that both give exactly the same matters on the sample.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import insert
from sqlmodel import Session

from duban.analysis import (
    _UnionFind,
    bigrams,
    find_candidates,
    group_matters,
    jaccard,
    normalize_text,
    same_matter,
)
from duban.db import open_database
from duban.demo import TOPICS
from duban.models import Ticket
from duban.settings import DEFAULTS
from duban.text import normalize_address

AS_OF = datetime(2024, 6, 28, 18, 0)
PERCENT = DEFAULTS["candidate_similarity_percent"]
SURNAMES = "张王李赵刘陈杨黄周吴徐孙朱马胡郭林何高罗"
ROADS = [f"{a}{b}路" for a in "东西南北中新和育惠丰赵业" for b in ("平", "安", "兴", "华", "民")]
ESTATES = [
    f"{a}{b}{c}" for a in "和丰惠育新金" for b in "睦泽民才城桥" for c in ("苑", "家园", "新村")
]
DETAILS = [
    "已经持续一周",
    "晚上尤其严重",
    "老人孩子受影响",
    "之前打过电话",
    "希望尽快派人查看",
    "周边居民意见很大",
    "物业说不归他们管",
    "存在安全隐患",
    "拍了照片可以提供",
    "要求给个说法",
]
STATUSES = ["已办结"] * 6 + ["处理中", "待回访", "已派遣"]
CALLBACKS = ["satisfied"] * 5 + ["basic", "unsatisfied", "unsatisfied", "none"]


def address(rng: random.Random) -> str:
    """Mostly specific addresses; some nested variants, some vague, a few missing."""
    roll = rng.random()
    if roll < 0.55:
        return f"示例镇{rng.choice(ROADS)}{rng.randrange(1, 1500)}号"
    estate = rng.choice(ESTATES)
    building = rng.randrange(1, 80)
    if roll < 0.80:
        return f"示例镇{estate}{building}号楼"
    if roll < 0.85:  # the same building written shorter, or with the flat
        return rng.choice(
            [f"{estate}{building}号楼", f"示例镇{estate}{building}号楼{rng.randrange(101, 1802)}室"]
        )
    if roll < 0.97:
        return rng.choice([f"示例镇{rng.choice(ROADS)}", f"示例镇{estate}"])
    return ""


def content(rng: random.Random, texts: list[str]) -> str:
    words = [rng.choice(texts)] + rng.sample(DETAILS, rng.randrange(0, 3))
    if rng.random() < 0.5:
        words.append(f"已反映{rng.randrange(2, 9)}次")
    return "，".join(words)


def ticket_rows(n: int, seed: int = 11) -> list[dict]:
    """N tickets within the 90 days before AS_OF, time-ordered."""
    rng = random.Random(seed)
    specs = []
    while len(specs) < n:
        category, _, texts = rng.choice(TOPICS)
        kind = rng.random()
        place = address(rng)
        first = AS_OF - timedelta(days=rng.uniform(0, 88))
        if kind < 0.80:  # a single complaint
            specs.append((first, place, content(rng, texts), None, category))
        elif kind < 0.95:  # one caller, again and again, reworded
            phone = f"147{rng.randrange(10**8):08d}"
            for _ in range(rng.randrange(2, 6)):
                when = first + timedelta(days=rng.uniform(0, 30))
                specs.append((min(when, AS_OF), place, content(rng, texts), phone, category))
        else:  # many callers, one place, one wording
            text = content(rng, texts)
            for _ in range(rng.randrange(3, 9)):
                when = first + timedelta(days=rng.uniform(0, 20))
                specs.append((min(when, AS_OF), place, text, None, category))
    specs = sorted(specs[:n], key=lambda s: s[0])
    rows = []
    for i, (when, place, text, phone, category) in enumerate(specs):
        status = rng.choice(STATUSES)
        rows.append(
            {
                "ticket_no": f"B{when:%y%m%d}{i:07d}",
                "received_at": when.replace(microsecond=0),
                "title": text[:20],
                "address": place,
                "address_norm": normalize_address(place),
                "content": text,
                "category": category,
                "caller": rng.choice(SURNAMES) + rng.choice(["先生", "女士"]),
                "phone": phone or f"141{rng.randrange(10**8):08d}",
                "unit_raw": "",
                "platform_due_at": when + timedelta(days=7),
                "platform_status": status,
                "callback_result": rng.choice(CALLBACKS) if status == "已办结" else "none",
                "city_supervised": rng.random() < 0.005,
                "raw": {},
                "notes": "",
                "tags": "",
                "repeat_group": "",
                "created_at": AS_OF,
                "updated_at": AS_OF,
                "version": 1,
            }
        )
    return rows


def all_pairs(
    addresses: list[str], contents: list[str], categories: list[str], percent: int
) -> list[list[int]]:
    """The baseline: every pair's bigram Jaccard and the same-matter rule, then components."""
    sets = [bigrams(normalize_text(c)) for c in contents]
    threshold = percent / 100
    uf = _UnionFind(len(addresses))
    for i in range(len(addresses)):
        for j in range(i + 1, len(addresses)):
            score = jaccard(sets[i], sets[j])
            if same_matter(
                addresses[i], addresses[j], score, threshold, categories[i], categories[j]
            ):
                uf.union(i, j)
    groups: dict[int, list[int]] = {}
    for i in range(len(addresses)):
        groups.setdefault(uf.find(i), []).append(i)
    return sorted(groups.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=5_000)
    args = parser.parse_args(argv)

    rows = ticket_rows(args.tickets)
    with tempfile.TemporaryDirectory() as folder:
        engine = open_database(f"sqlite:///{Path(folder) / 'bench.db'}")
        with Session(engine) as session:
            for start in range(0, len(rows), 20_000):
                session.execute(insert(Ticket), rows[start : start + 20_000])
            session.commit()
        with Session(engine) as session:
            started, cpu = time.perf_counter(), time.process_time()
            result = find_candidates(session, AS_OF)
            end_to_end = time.perf_counter() - started
            cpu = time.process_time() - cpu
        engine.dispose()
    counts = "，".join(
        f"{rule.label} {len(result.by_rule(rule))}"
        for rule in dict.fromkeys(g.rule for g in result.groups)
    )
    print(f"tickets: {len(rows):,}; groups: {counts}")
    print(f"find_candidates end to end: {end_to_end:.2f} s, CPU {cpu:.2f} s (target < 10 s; "
          f"the machine is shared: CPU time shows the share of load from others)")  # fmt: skip

    addresses = [r["address_norm"] for r in rows]
    contents = [r["content"] for r in rows]
    categories = [r["category"] for r in rows]
    started = time.perf_counter()
    group_matters(addresses, contents, PERCENT, categories)
    fast = time.perf_counter() - started

    sample = random.Random(5).sample(range(len(rows)), min(args.sample, len(rows)))
    s_addr = [addresses[i] for i in sample]
    s_text = [contents[i] for i in sample]
    s_cat = [categories[i] for i in sample]
    started = time.perf_counter()
    baseline = all_pairs(s_addr, s_text, s_cat, PERCENT)
    measured = time.perf_counter() - started
    indexed = sorted(m.members for m in group_matters(s_addr, s_text, PERCENT, s_cat))
    same = baseline == indexed
    n, k = len(rows), len(sample)
    extrapolated = measured * (n * (n - 1)) / (k * (k - 1))
    print(f"grouping, indexed, {n:,} tickets: {fast:.2f} s")
    print(
        f"grouping, all pairs, {k:,}-ticket sample: {measured:.2f} s; "
        f"extrapolated to {n:,}: {extrapolated:,.0f} s"
    )
    print(f"ratio (all-pairs extrapolated ÷ indexed): {extrapolated / fast:,.0f}× (target ≥ 20×)")
    print(f"same matters as all pairs on the sample: {'yes' if same else 'NO'}")
    ok = same and end_to_end < 10 and extrapolated / fast >= 20
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
