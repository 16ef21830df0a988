"""Documents (文书): the seed's forms and papers, rendered from templates staff edit in Word.

One registry, `registry.KINDS`, says for every kind which template file it uses, which fields a
template may use (name, meaning, example: the field reference in templates/README.md is
generated from it) and how the fields are filled from the database. Adding a kind is one
`KindSpec(...)` entry plus its template in `templates/build.py`.

Rendering goes through docxtpl with a sandboxed, autoescaping Jinja environment: values with
`& < >` or `{{ }}` print literally, `None` prints blank, and a template cannot reach Python
internals (`{{ ''.__class__.__mro__ }}` is refused at upload; at render the sandbox refuses it
or prints nothing). A rendered file is kept under `data/documents/<year>/<case_no>/` with a
readable, Windows-safe name and registered as a `Document` row with an audit row; rendering
again keeps the older files.

One module a concern: `fields` (the fields each template may use), `sources` (the rows a paper
is printed from), `formatting` (dates, units, titles as papers write them), `contexts` (one
context builder per kind, and the forms' prefill), `registry` (`KINDS`), `docx_template` (the
sandboxed Jinja environment and the docxtpl override), `rendering` (a template with a context),
`printing` (`render_kind`, a case's paper and batches, kept and registered), `reading` (documents back, PDF
and preview) and `templates` (current template, upload with checks, versions, restore). The
case page shows all of this through `ui.case_documents.case_documents_panel(case_id)`.
"""

from duban.documents.contexts import office_setup_needed, paper_prefill, save_office
from duban.documents.docx_template import ENV
from duban.documents.formatting import (
    case_context,
    due_context,
    office_context,
    sentence,
    title_lines,
)
from duban.documents.printing import (
    batch_pdfs,
    case_source,
    paper_steps,
    register_document,
    render_batch,
    render_document,
    render_kind,
    safe_name,
)
from duban.documents.reading import (
    DocumentRow,
    case_choices,
    case_documents,
    document_file,
    document_pdf,
    document_preview,
    pdf_available,
    preview_available,
    recent_documents,
    to_pdf_many,
)
from duban.documents.registry import KINDS, kind_spec
from duban.documents.rendering import ImageSpec, complete, prepare, render_template, sha256
from duban.documents.sources import Office, Source, case_by_no, load_case, load_cases, unit_names
from duban.documents.templates import (
    DEFAULT_TEMPLATES,
    DOCX_MIME,
    activate_template_version,
    check_template,
    current_template,
    default_template,
    describe,
    restore_default_template,
    sample_context,
    sample_png,
    template_listing,
    template_versions,
    upload_template,
)

__all__ = [
    "DEFAULT_TEMPLATES",
    "DOCX_MIME",
    "DocumentRow",
    "ENV",
    "ImageSpec",
    "KINDS",
    "Office",
    "Source",
    "activate_template_version",
    "batch_pdfs",
    "case_source",
    "case_by_no",
    "case_choices",
    "case_context",
    "case_documents",
    "check_template",
    "complete",
    "current_template",
    "default_template",
    "describe",
    "document_file",
    "document_pdf",
    "document_preview",
    "due_context",
    "kind_spec",
    "load_case",
    "load_cases",
    "office_context",
    "office_setup_needed",
    "paper_prefill",
    "paper_steps",
    "pdf_available",
    "prepare",
    "preview_available",
    "recent_documents",
    "register_document",
    "render_batch",
    "render_document",
    "render_kind",
    "render_template",
    "restore_default_template",
    "safe_name",
    "sample_context",
    "sample_png",
    "save_office",
    "sentence",
    "sha256",
    "template_listing",
    "template_versions",
    "title_lines",
    "to_pdf_many",
    "unit_names",
    "upload_template",
]
