"""What every page needs: the engine, the acting user, errors shown in Chinese, date display.

The engine is created once per process (`st.cache_resource`); each unit of work opens its
own short `Session(engine())`, never kept across reruns or shared between users.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from streamlit.runtime.pages_manager import PagesManager

from duban import config, uploads
from duban.clock import now
from duban.db import open_database
from duban.enums import Role
from duban.errors import DubanError
from duban.permissions import Actor

log = logging.getLogger("duban.ui")


@st.cache_resource(show_spinner="正在打开数据库…")
def _engine() -> Engine:
    return open_database()


def through_entry_script() -> None:
    """Never let a page run without app.py's login gate.

    Until app.py has called `st.navigation` once in a server process, Streamlit treats the
    `pages/` folder the old way and runs a requested page file (e.g. a bookmarked /ledger
    after a restart) alone, skipping app.py. Such a run is restarted through app.py, which
    keeps the URL, so the user logs in first and then sees the page they asked for.
    """
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def engine() -> Engine:
    """The process-wide engine; a configuration problem stops the page with one Chinese line."""
    through_entry_script()
    try:
        return _engine()
    except DubanError as exc:
        st.error(f"无法启动：{exc}")
        st.stop()
    except Exception as exc:  # noqa: BLE001 - never a traceback on the page
        log_exception(exc)
        st.error(
            "无法启动：数据库初始化失败，详情已记录到 data/logs/，请检查 DUBAN_DATABASE_URL 与 DUBAN_DATA_DIR"
        )
        st.stop()
    raise AssertionError("unreachable")


def actor() -> Actor:
    """The logged-in user as the services see them (set by the login gate in app.py)."""
    through_entry_script()
    current = st.session_state.get("actor")
    if current is None:
        st.error("请先登录")
        st.stop()
    return current


def log_exception(exc: BaseException) -> None:
    """Write the detail of an unexpected error to data/logs/duban.log."""
    try:
        path = config.data_path("logs", "duban.log")
        with path.open("a", encoding="utf-8") as fh:
            fh.write(f"[{now():%Y-%m-%d %H:%M:%S}] {exc!r}\n")
            fh.write("".join(traceback.format_exception(exc)))
    except OSError:
        log.exception("could not write the error log", exc_info=exc)


@contextmanager
def user_action() -> Iterator[None]:
    """Run a user's action: expected failures show their Chinese message, others are logged.

    Streamlit's own control flow (st.rerun, st.stop) derives from BaseException and passes.
    """
    try:
        yield
    except DubanError as exc:
        st.error(literal(exc))
    except OperationalError as exc:
        log_exception(exc)
        if "locked" in str(exc.orig) or "busy" in str(exc.orig):
            st.error("数据库正忙（其他用户正在保存），请稍后再试；本次操作未保存，数据未作改动。")
        else:
            st.error("操作失败：数据库连接出错，详情已记录到 data/logs/；数据未作改动。")
    except Exception as exc:  # noqa: BLE001 - the UI never shows a traceback
        log_exception(exc)
        st.error("操作失败：系统内部错误，详情已记录到 data/logs/；数据未作改动。")


def role_is(*roles: Role) -> bool:
    return actor().role in roles


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$=^&])")


def literal(text: object) -> str:
    """User text made safe to put inside Markdown (st.markdown, st.success, button labels …):
    it shows exactly as typed — no bold, links, HTML, LaTeX, headings, `:icon:` or colour
    directives. (st.text, st.code and st.dataframe show text literally without this.)"""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))
    # Streamlit's :material/…:, :emoji: and :red[…] directives ignore backslashes; an
    # invisible zero-width space after each colon breaks them.
    return escaped.replace(":", ":\u200b").replace("\n", "  \n")


# --- Streamlit's own English, in Chinese ------------------------------------------------------

UPLOAD_LIMIT_MB = uploads.DEFAULT_MAX_BYTES // (1024 * 1024)  # = server.maxUploadSize

# Streamlit 1.67 has no option for the upload box's texts ("Upload", "NNMB per file"): the
# English is hidden and the Chinese drawn in its place (data-testid selectors, checked in
# chromium by tests/e2e/test_chinese_only.py).
_WIDGET_STYLE = f"""<style>
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p {{
  display: none; }}
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"]::after {{
  content: "选择文件"; }}
[data-testid="stFileUploaderDropzoneInstructions"] > div > span {{ display: none; }}
[data-testid="stFileUploaderDropzoneInstructions"] > div::after {{
  content: "可拖放文件到此处，单个文件不超过 {UPLOAD_LIMIT_MB} MB"; font-size: 0.875rem; }}
</style>"""

# Texts Streamlit writes into attributes (grid toolbars, the hidden file input, date
# placeholders) and into its own elements (the toolbar's hover tooltips, the keyboard "skip"
# link): read aloud by screen readers and shown on hover. A same-origin observer rewrites
# each one whose whole text is listed here (checked in chromium by tests/e2e/test_chinese_only.py).
_FRAMEWORK_TEXTS = {
    "Show/hide columns": "显示/隐藏列",
    "Download as CSV": "下载为 CSV",
    "Download as PNG": "下载为 PNG 图片",
    "Download as SVG": "下载为 SVG 图片",
    "Search": "搜索",
    "Fullscreen": "全屏",
    "Close fullscreen": "退出全屏",
    "Add row": "添加行",
    "Delete row(s)": "删除选中行",
    "file upload": "选择文件",
    "Clear all": "全部清除",
    "Skip to main content": "跳到正文",
    "YYYY/MM/DD": "年/月/日",
}
_FRAMEWORK_SCRIPT = """<script>
(() => {
  if (window.__dubanZh) return;
  window.__dubanZh = true;
  const texts = %s;
  const fix = (el) => {
    for (const attr of ["aria-label", "title", "placeholder"]) {
      const value = el.getAttribute && el.getAttribute(attr);
      if (value && texts[value]) el.setAttribute(attr, texts[value]);
    }
  };
  const fixText = (node) => {
    const value = node.nodeValue && node.nodeValue.trim();
    if (value && texts[value]) node.nodeValue = texts[value];
  };
  const sweep = (root) => {
    if (root.nodeType === Node.TEXT_NODE) return fixText(root);
    fix(root);
    if (!root.querySelectorAll) return;
    root.querySelectorAll("[aria-label],[title],[placeholder]").forEach(fix);
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) fixText(walker.currentNode);
  };
  sweep(document.body);
  new MutationObserver((changes) => {
    for (const c of changes) {
      if (c.type === "attributes") fix(c.target);
      else if (c.type === "characterData") fixText(c.target);
      else c.addedNodes.forEach(sweep);
    }
  }).observe(document.body, {subtree: true, childList: true, characterData: true,
                             attributes: true,
                             attributeFilter: ["aria-label", "title", "placeholder"]});
})();
</script>"""


def chinese_widget_texts() -> None:
    """Replace the English Streamlit writes into widgets with Chinese, on every page."""
    st.html(_WIDGET_STYLE)
    st.sidebar.html(
        _FRAMEWORK_SCRIPT % json.dumps(_FRAMEWORK_TEXTS, ensure_ascii=False),
        unsafe_allow_javascript=True,
    )
