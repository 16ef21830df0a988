"""Benchmark: 500 督办单 in one batch against bare docxtpl on the same template and contexts.

    python -m bench.bench_render [--cases 500] [--rounds 2]

Builds a fresh SQLite database in a temporary folder holding N cases of `bench.synth` (one
to three tickets each, a 督办单 step first). Then, in this process and alternating:
- the baseline: `DocxTemplate(template).render(context, autoescape=True).save(file)` for the
  N contexts, computed beforehand (the least any docx renderer must do);
- `duban.documents.render_batch`: loading the cases, building the contexts, rendering in the
  sandbox, writing and registering each file with its audit row, and zipping them all.
Prints the best time of each over the rounds and the ratio; the target is at most 1.3×.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from docxtpl import DocxTemplate
from sqlmodel import Session

TARGET_RATIO = 1.3


def populate(engine, n: int) -> list[int]:
    """N cases from `bench.synth` (one to three tickets each, a 督办单 step first); their ids."""
    from sqlalchemy import select

    from bench.synth import generate
    from duban.models import Case

    generate(engine, n * 10)
    with Session(engine) as session:
        return list(session.execute(select(Case.id).order_by(Case.id).limit(n)).scalars())


def contexts(session: Session, case_ids: list[int]) -> list[dict]:
    """The exact contexts render_batch renders, computed outside the timing."""
    from duban import documents as d
    from duban.enums import DocumentKind

    spec = d.KINDS[DocumentKind.SUPERVISION_FORM]
    office, names = d.Office.load(session), d.unit_names(session)
    bundles = d.load_cases(session, case_ids)
    result = []
    for case_id in case_ids:
        source = d.case_source(session, spec, bundles[case_id], office=office, names=names)
        result.append(d.complete(spec, spec.build(source)))
    return result


def bare(template: Path, ctxs: list[dict], out: Path) -> float:
    started = time.perf_counter()
    for i, context in enumerate(ctxs):
        tpl = DocxTemplate(template)
        tpl.render(context, autoescape=True)
        tpl.save(out / f"{i}.docx")
    return time.perf_counter() - started


def batch(engine, case_ids: list[int]) -> float:
    from duban.documents import render_batch
    from duban.permissions import SYSTEM

    started = time.perf_counter()
    with Session(engine) as session:
        result = render_batch(session, SYSTEM, "supervision-form", case_ids)
        session.commit()
    assert len(result.documents) == len(case_ids), result.skipped
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="duban-bench-render-") as tmp:
        folder = Path(tmp)
        os.environ["DUBAN_DATA_DIR"] = str(folder / "data")
        os.environ["DUBAN_DATABASE_URL"] = f"sqlite:///{folder / 'bench.db'}"
        from duban.db import open_database
        from duban.documents import DEFAULT_TEMPLATES, KINDS
        from duban.enums import DocumentKind

        engine = open_database()
        case_ids = populate(engine, args.cases)
        with Session(engine) as session:
            ctxs = contexts(session, case_ids)
        template = DEFAULT_TEMPLATES / KINDS[DocumentKind.SUPERVISION_FORM].template
        (folder / "bare").mkdir()
        bare(template, ctxs[:5], folder / "bare")  # warm-up: imports, caches
        baseline, ours = [], []
        for _ in range(args.rounds):
            baseline.append(bare(template, ctxs, folder / "bare"))
            ours.append(batch(engine, case_ids))
        engine.dispose()
    best_bare, best_ours = min(baseline), min(ours)
    ratio = best_ours / best_bare
    print(f"cases: {args.cases}, rounds: {args.rounds}")
    print(f"bare docxtpl render+save:          {best_bare:7.2f} s  ({best_bare / args.cases * 1000:.1f} ms each)")  # fmt: skip
    print(f"duban render_batch (zip, registered): {best_ours:7.2f} s  ({best_ours / args.cases * 1000:.1f} ms each)")  # fmt: skip
    print(
        f"ratio: {ratio:.2f}x (target <= {TARGET_RATIO}x) {'OK' if ratio <= TARGET_RATIO else 'OVER'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
