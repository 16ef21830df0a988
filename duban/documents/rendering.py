"""Rendering a template with a context: values prepared for Word, missing fields blank."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from docx.shared import Mm
from docxtpl import DocxTemplate, InlineImage
from jinja2.exceptions import SecurityError

from duban.clock import cn_date
from duban.documents.docx_template import ENV, Template
from duban.documents.formatting import cn_datetime
from duban.documents.registry import KindSpec
from duban.enums import DocumentKind
from duban.errors import ValidationError


@dataclass(frozen=True)
class ImageSpec:
    """A picture for a template field (a chart): PNG/JPEG bytes and the printed width."""

    data: bytes
    width_mm: float


@dataclass(frozen=True)
class TemplateRef:
    """The template a kind renders with now: the committed default or an uploaded version."""

    kind: DocumentKind
    name: str  # the name registered on each Document
    path: Path
    sha256: str
    version: int | None = None  # None: the committed default
    version_id: int | None = None

    def read(self) -> bytes:
        return self.path.read_bytes()


@dataclass(frozen=True)
class Rendered:
    kind: DocumentKind
    data: bytes
    template: TemplateRef


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_TO_CLEAN = re.compile("[\x00-\x08\x0a-\x1f\ufffe\uffff]")  # the above, \n and \r


def clean_text(value: str) -> str:
    """Text as a template prints it: XML-invalid characters dropped, each line a paragraph.

    docxtpl turns "\\a" into a new paragraph with the same formatting, so multi-line
    fields keep the first-line indent of the body style on every paragraph.
    """
    if _TO_CLEAN.search(value) is None:  # most values: nothing to do
        return value
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    return _XML_INVALID.sub("", text).replace("\n", "\a")


def prepare(value: Any, tpl: DocxTemplate) -> Any:
    """A context value made printable: text cleaned, dates in Chinese, images placed."""
    if value is None:
        return ""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, ImageSpec):
        return InlineImage(tpl, io.BytesIO(value.data), width=Mm(value.width_mm))
    if isinstance(value, Enum):
        return getattr(value, "label", value.value)
    if isinstance(value, date):
        return cn_datetime(value) if isinstance(value, datetime) else cn_date(value)
    if isinstance(value, Mapping):  # a table row: mostly text, cleaned without a detour
        return {k: clean_text(v) if type(v) is str else prepare(v, tpl) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [prepare(v, tpl) for v in value]
    return value


def complete(spec: KindSpec, context: Mapping[str, Any]) -> dict[str, Any]:
    """Every declared field present (a missing one prints blank, a missing list is empty)."""
    full: dict[str, Any] = {fs.name: [] if fs.is_list else "" for fs in spec.fields}
    full.update(context)
    return full


def render_template(template: bytes, context: Mapping[str, Any]) -> bytes:
    """Render docx template bytes with a context in the sandbox; the result as bytes."""
    tpl = Template(io.BytesIO(template))
    tpl.init_docx()
    ctx = {key: prepare(value, tpl) for key, value in context.items()}
    try:
        tpl.render(ctx, jinja_env=ENV, autoescape=True)
    except SecurityError as exc:
        raise ValidationError(f"模板含有不允许的表达式，已拒绝渲染：{exc}") from exc
    except Exception as exc:  # noqa: BLE001 - a template's fault of any kind is told, not crashed
        raise ValidationError(f"模板无法渲染（{type(exc).__name__}）：{exc}") from exc
    out = io.BytesIO()
    tpl.save(out)
    return out.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
