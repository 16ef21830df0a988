"""Redraw the papers' pictures in docs/ as a leader sees them: LibreOffice → PDF → pdftoppm.

    python scripts/paper_pictures.py

- docs/supervision-form.png: the 督办单 of the nine-ticket demo case (tests/paper_cases.py),
  every page side by side;
- docs/report.png: the first page of the demo town's work report for its last full year.

Runs on a throw-away database under a temporary folder; your data is never touched.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def pages_png(pdf: bytes, out: Path, *, first: int = 1, last: int = 99, dpi: int = 80) -> None:
    """Pages `first`..`last` of a PDF side by side in one PNG (white gap between pages)."""
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "paper.pdf"
        source.write_bytes(pdf)
        subprocess.run(
            ["pdftoppm", "-png", "-r", str(dpi), "-f", str(first), "-l", str(last),
             str(source), str(Path(tmp) / "page")],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        images = [Image.open(p) for p in sorted(Path(tmp).glob("page*.png"))]
        gap = 12
        width = sum(i.width for i in images) + gap * (len(images) - 1)
        sheet = Image.new("RGB", (width, max(i.height for i in images)), "#d0d0d0")
        x = 0
        for image in images:
            sheet.paste(image, (x, 0))
            x += image.width + gap
        sheet.save(out, optimize=True)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="duban-pictures-") as tmp:
        os.environ["DUBAN_DATA_DIR"] = tmp
        os.environ["DUBAN_DATABASE_URL"] = f"sqlite:///{tmp}/pictures.db"
        from sqlmodel import Session

        from duban import config, documents, reports
        from duban.clock import today
        from duban.db import make_engine, upgrade
        from duban.demo import generate_demo
        from duban.kpi import Period
        from duban.permissions import SYSTEM
        from tests.paper_cases import CLERK, build_paper_town

        engine = make_engine(os.environ["DUBAN_DATABASE_URL"])  # the nine-ticket case
        upgrade(engine)
        with Session(engine) as session:
            documents.save_office(
                session, SYSTEM, name="青浦区赵巷镇城市运行管理中心", contact="王敏",
                phone="021-59751234",
            )  # fmt: skip
            town = build_paper_town(session)
            doc = documents.render_document(
                session, CLERK, "supervision-form", case_id=town.nine.id
            )
            form = (config.data_dir() / doc.path).read_bytes()
            session.commit()
        demo = make_engine(f"sqlite:///{tmp}/demo.db")  # the demo town's year
        upgrade(demo)
        generate_demo(demo)
        with Session(demo) as session:
            year = (today().replace(day=1) - timedelta(days=1)).year
            report = reports.render_work_report(session, SYSTEM, Period.year(year)).content
            session.commit()
        pdfs = documents.to_pdf_many({"form.docx": form, "report.docx": report})
        pages_png(pdfs["form.docx"], ROOT / "docs" / "supervision-form.png")
        pages_png(pdfs["report.docx"], ROOT / "docs" / "report.png", last=1, dpi=110)
    for name in ("supervision-form.png", "report.png"):
        sys.stdout.write(f"docs/{name}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
