"""Templates: the current one of a kind, upload with validation, versions, restore."""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

from docx import Document as open_docx
from docx.oxml import parse_xml
from docxtpl import DocxTemplate
from jinja2 import TemplateSyntaxError, meta, nodes
from sqlalchemy import func
from sqlmodel import Session, col, select

from duban import archives, audit, config, template_limits
from duban.documents.docx_template import ENV
from duban.documents.registry import KindSpec, kind_spec
from duban.documents.rendering import ImageSpec, TemplateRef, sha256
from duban.enums import AuditAction, DocumentKind
from duban.errors import NotFound, ValidationError
from duban.models import TemplateVersion
from duban.permissions import Actor, Perm
from duban.records import insert

DEFAULT_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

# --- templates: current, upload with validation, versions, restore ---------------------------


def default_template(kind: DocumentKind | str) -> TemplateRef:
    spec = kind_spec(kind)
    path = DEFAULT_TEMPLATES / spec.template
    if not path.is_file():
        raise NotFound(f"默认模板文件缺失：templates/{spec.template}")
    return TemplateRef(spec.kind, spec.template, path, sha256(path.read_bytes()))


def current_template(session: Session, kind: DocumentKind | str) -> TemplateRef:
    """The newest active uploaded version of a kind's template, else the committed default."""
    spec = kind_spec(kind)
    row = session.exec(
        select(TemplateVersion)
        .where(col(TemplateVersion.kind) == spec.kind, col(TemplateVersion.active).is_(True))
        .order_by(col(TemplateVersion.version).desc())
    ).first()
    if row is None:
        return default_template(spec.kind)
    return TemplateRef(
        spec.kind,
        Path(row.path).name,
        config.data_dir() / row.path,
        row.sha256,
        version=row.version,
        version_id=row.id,
    )


def template_versions(session: Session, kind: DocumentKind | str) -> list[TemplateVersion]:
    """Uploaded versions of a kind's template, newest first."""
    spec = kind_spec(kind)
    return list(
        session.exec(
            select(TemplateVersion)
            .where(col(TemplateVersion.kind) == spec.kind)
            .order_by(col(TemplateVersion.version).desc())
        )
    )


def template_listing(
    session: Session, actor: Actor, kind: DocumentKind | str
) -> tuple[TemplateRef, list[TemplateVersion]]:
    """What 文书模板 shows for a kind: the template in use and every uploaded version."""
    actor.require(Perm.MANAGE_TEMPLATES)
    return current_template(session, kind), template_versions(session, kind)


def template_xml(data: bytes) -> str:
    """The Jinja source docxtpl renders: body, headers and footers, runs merged into tags."""
    tpl = DocxTemplate(io.BytesIO(data))
    doc = open_docx(io.BytesIO(data))
    xml = tpl.patch_xml(tpl.xml_to_string(doc.element.body))
    for rel in doc.part.rels.values():
        if rel.reltype in (tpl.HEADER_URI, tpl.FOOTER_URI) and rel.target_part.blob:
            xml += tpl.patch_xml(tpl.xml_to_string(parse_xml(rel.target_part.blob)))
    return re.sub(r"<w:p([ >])", r"\n<w:p\1", xml)  # one paragraph per line, as docxtpl renders


def nearby_text(xml: str, lineno: int | None) -> str:
    """The document text of the paragraph with a Jinja error (and the one before it)."""
    if not lineno:
        return ""
    lines = xml.splitlines()
    around = " ".join(lines[max(lineno - 2, 0) : lineno])
    text = re.sub(r"<[^>]+>", "", around)
    return re.sub(r"\s+", " ", text).strip()[:80]


def explain(exc: TemplateSyntaxError) -> str:
    """Jinja's English syntax message in the words staff editing in Word understand."""
    message = exc.message or ""
    block = re.search(r"innermost block that needs to be closed is '(\w+)'", message)
    if block:
        return f"“{{% {block[1]} %}}”缺少配对的“{{% end{block[1]} %}}”"
    tag = re.search(r"Encountered unknown tag '(\w+)'", message)
    if tag:
        return f"未知的标签“{tag[1]}”（或缺少与之配对的开始标签）"
    if "'end of print statement'" in message or message.startswith("unexpected '}'"):
        return "“{{”与“}}”不成对，或标签内有多余的文字"
    if "end of statement block" in message:
        return "“{%”与“%}”不成对，或标签内有多余的文字"
    return message


def private_names(tree: nodes.Template) -> set[str]:
    """Attribute names starting with "_" (the way into Python internals), e.g. __class__."""
    found = {n.attr for n in tree.find_all(nodes.Getattr) if n.attr.startswith("_")}
    found |= {
        n.arg.value
        for n in tree.find_all(nodes.Getitem)
        if isinstance(n.arg, nodes.Const) and str(n.arg.value).startswith("_")
    }
    found |= {n.name for n in tree.find_all(nodes.Name) if n.name.startswith("_")}
    found |= {
        str(n.args[0].value)
        for n in tree.find_all(nodes.Filter)
        if n.name == "attr" and n.args and isinstance(n.args[0], nodes.Const)
        and str(n.args[0].value).startswith("_")
    }  # fmt: skip
    return found


def unknown_item_fields(spec: KindSpec, tree: nodes.Template) -> list[str]:
    """`{{ t.xyz }}` inside `{% for t in tickets %}` where tickets' rows have no field xyz."""
    lists = {fs.name: fs for fs in spec.fields if fs.is_list}
    problems = []
    for loop in tree.find_all(nodes.For):
        if not (isinstance(loop.iter, nodes.Name) and loop.iter.name in lists):
            continue
        if not isinstance(loop.target, nodes.Name):
            continue
        declared = lists[loop.iter.name]
        valid = {item.name for item in declared.items}
        used = {
            n.attr
            for body in loop.body
            for n in body.find_all(nodes.Getattr)
            if isinstance(n.node, nodes.Name) and n.node.name == loop.target.name
        }
        for name in sorted(used - valid):
            choices = "、".join(f"{i.name}（{i.label}）" for i in declared.items)
            problems.append(
                f"{loop.iter.name}（{declared.label}）的每一行没有字段“{loop.target.name}.{name}”，"
                f"可用：{choices}"
            )
    return problems


SAMPLE_PNG_SIZE = 8


def sample_png() -> bytes:
    """A tiny white PNG, so a template's image fields can be test-rendered at upload."""
    size = SAMPLE_PNG_SIZE

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    pixels = b"".join(b"\x00" + b"\xff" * 3 * size for _ in range(size))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(pixels))
        + chunk(b"IEND", b"")
    )


def sample_context(spec: KindSpec) -> dict[str, Any]:
    """The declared fields filled with their examples (two rows per list)."""
    context: dict[str, Any] = {}
    for fs in spec.fields:
        if fs.image:
            context[fs.name] = ImageSpec(sample_png(), 20)
        elif fs.is_list:
            row = {item.name: item.example for item in fs.items}
            context[fs.name] = [row, dict(row)]
        else:
            context[fs.name] = fs.example
    return context


def check_template(kind: DocumentKind | str, data: bytes, file_name: str = "") -> list[str]:
    """Why an uploaded template cannot be accepted (an empty list: it can).

    It must be a real .docx, its Jinja must parse, it may use only the kind's fields (the
    unknown ones are named with the list of valid ones), it may not touch Python internals,
    and it must render with example values in a child process with time, memory and output
    limits (`duban.template_limits`); its zip is checked first (`duban.archives`).
    """
    spec = kind_spec(kind)
    if file_name and not file_name.lower().endswith(".docx"):
        return [f"只接受 .docx 文件，收到的是“{file_name}”"]
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return ["这是旧版 Word（.doc）文件，请在 Word/WPS 中“另存为” .docx 后再上传"]
    if not zipfile.is_zipfile(io.BytesIO(data)):
        return ["文件不是有效的 .docx 文档（无法打开），请用 Word/WPS 另存为 .docx 后再上传"]
    try:
        archives.check_zip(data, file_name or "模板", max_unpacked=archives.TEMPLATE_UNPACKED)
    except ValidationError as exc:
        return [str(exc)]
    try:
        xml = template_xml(data)
    except Exception:  # noqa: BLE001 - any failure to open means "not a Word document"
        return [
            "文件不是有效的 Word 文档（.docx 内容损坏或是其他格式），请用 Word/WPS 另存为 .docx 后再上传"
        ]
    try:
        tree = ENV.parse(xml)
    except TemplateSyntaxError as exc:
        where = nearby_text(xml, exc.lineno)
        return [f"模板标签语法错误：{explain(exc)}" + (f"（附近文字：“{where}”）" if where else "")]
    problems = []
    private = private_names(tree)
    if private:
        problems.append(f"模板含有不允许的表达式（访问内部属性：{'、'.join(sorted(private))}）")
    unknown = {
        name
        for name in meta.find_undeclared_variables(tree) - spec.field_names() - set(ENV.globals)
        if not name.startswith("_")
    }
    if unknown:
        valid = "、".join(f"{fs.name}（{fs.label}）" for fs in spec.fields)
        problems.append(f"模板使用了未知的字段：{'、'.join(sorted(unknown))}。可用的字段：{valid}")
    problems += unknown_item_fields(spec, tree)
    if problems:
        return problems
    return template_limits.trial_render(spec.kind.value, data)


def upload_template(
    session: Session, actor: Actor, kind: DocumentKind | str, file_name: str, data: bytes
) -> TemplateVersion:
    """Validate an edited template and make it the kind's current version (audited).

    Refused with every problem listed; nothing is stored then. The caller commits.
    """
    actor.require(Perm.MANAGE_TEMPLATES)
    spec = kind_spec(kind)
    problems = check_template(spec.kind, data, file_name)
    if problems:
        raise ValidationError(
            f"模板“{file_name}”未通过检查：\n" + "\n".join(f"- {p}" for p in problems)
        )
    digest = sha256(data)
    if current_template(session, spec.kind).sha256 == digest:
        raise ValidationError(f"上传的模板与当前使用的{spec.title}模板完全相同，未作改动")
    last = session.exec(
        select(func.max(col(TemplateVersion.version))).where(col(TemplateVersion.kind) == spec.kind)
    ).one()
    version = (last or 0) + 1
    base = config.data_dir()
    path = base / "templates" / spec.kind.value / f"{spec.kind.value}-v{version}.docx"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    row = TemplateVersion(
        kind=spec.kind,
        version=version,
        file_name=file_name[:255],
        path=path.relative_to(base).as_posix(),
        sha256=digest,
        created_by=actor.user_id,
    )
    return insert(
        session,
        actor,
        row,
        field=spec.kind.value,
        new=f"第{version}版",
        note=f"上传{spec.title}模板“{file_name}”",
    )


def activate_template_version(session: Session, actor: Actor, version_id: int) -> None:
    """Use an earlier uploaded version again: it and no newer version stays active."""
    actor.require(Perm.MANAGE_TEMPLATES)
    row = session.get(TemplateVersion, version_id)
    if row is None:
        raise NotFound(f"模板版本（编号 {version_id}）不存在")
    before = current_template(session, row.kind)
    for other in template_versions(session, row.kind):
        if other.id == row.id or other.version > row.version:
            other.active = other.id == row.id
            session.add(other)
    session.flush()
    audit.record(
        session,
        actor,
        AuditAction.UPDATE,
        "templateversion",
        row.id,
        field=row.kind.value,
        old=describe(before),
        new=f"第{row.version}版",
        note=f"启用{row.kind.label}模板第{row.version}版",
    )


def restore_default_template(session: Session, actor: Actor, kind: DocumentKind | str) -> None:
    """Go back to the committed default; uploaded versions stay listed (inactive)."""
    actor.require(Perm.MANAGE_TEMPLATES)
    spec = kind_spec(kind)
    before = current_template(session, spec.kind)
    if before.version is None:
        raise ValidationError(f"{spec.title}已在使用默认模板")
    for row in template_versions(session, spec.kind):
        if row.active:
            row.active = False
            session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        AuditAction.UPDATE,
        "templateversion",
        before.version_id,
        field=spec.kind.value,
        old=describe(before),
        new="默认模板",
        note=f"恢复{spec.title}默认模板",
    )


def describe(ref: TemplateRef) -> str:
    return "默认模板" if ref.version is None else f"第{ref.version}版"
