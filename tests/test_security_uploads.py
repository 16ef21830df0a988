"""Uploads are checked by structure, not only by their first bytes (issue #15)."""

from __future__ import annotations

import pytest
from sqlmodel import select

from duban.enums import Role
from duban.errors import ValidationError
from duban.models import Upload
from duban.permissions import Actor
from duban.uploads import store_upload
from tests.factories import sample_file

CLERK = Actor(user_id=None, username="clerk", role=Role.CENTER)
HTML = b"%PDF-1.7\n<html><body><script>fetch('/x?c='+document.cookie)</script></body></html>\n"
CRAFTED = {
    "html behind a PDF header": ("回执.pdf", HTML),
    "a PDF cut short": ("回执.pdf", sample_file("pdf")[:200]),
    "a PNG header then garbage": ("回执.png", sample_file("png")[:40] + b"<script>x</script>" * 5),
    "a JPEG header then html": ("回执.jpg", b"\xff\xd8\xff\xe0" + HTML),
}


@pytest.mark.parametrize("attack", sorted(CRAFTED))
def test_files_that_only_start_like_a_scan_are_refused(session, attack):
    name, data = CRAFTED[attack]
    with pytest.raises(ValidationError, match="内容损坏或不是真正的"):
        store_upload(session, CLERK, name=name, data=data)
    assert session.exec(select(Upload)).all() == []


@pytest.mark.parametrize("kind", ["pdf", "png", "jpeg"])
def test_real_scans_are_accepted(session, kind):
    assert store_upload(session, CLERK, name=f"回执.{kind}", data=sample_file(kind)).id
