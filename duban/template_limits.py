"""Trial rendering of an uploaded template in a child process with time and memory limits,
and a limit on the size of what it produces (issue #15).

A template is code: two nested `range(99999)` loops hang a render for ever, `{{ 'x' * 10**7 }}`
blows up the output. The trial render of `duban.documents.check_template` therefore runs in a
separate Python process that is killed after `TIME_LIMIT` seconds, may not use more than
`MEMORY_LIMIT` bytes (POSIX), and whose rendered document may not unpack to more than
`OUTPUT_LIMIT` bytes. Run as `python -m duban.template_limits KIND` with the template on stdin.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

TIME_LIMIT = 15  # seconds; a real template renders its example in well under one
MEMORY_LIMIT = 1 << 30
OUTPUT_LIMIT = 5 << 20  # unpacked bytes of the rendered example document (real ones: KB)
ROOT = Path(__file__).resolve().parent.parent


def _limit_resources() -> None:  # pragma: no cover - runs in the child before exec
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CPU, (TIME_LIMIT + 1, TIME_LIMIT + 1))


def trial_render(kind: str, data: bytes) -> list[str]:
    """Render `data` with the kind's example values in a limited child; its problems."""
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    try:
        done = subprocess.run(
            [sys.executable, "-m", "duban.template_limits", kind],
            input=data,
            capture_output=True,
            timeout=TIME_LIMIT,
            env=env,
            cwd=ROOT,
            preexec_fn=_limit_resources if os.name == "posix" else None,  # noqa: PLW1509
            check=False,
        )
    except subprocess.TimeoutExpired:
        return [f"用示例数据试生成超过 {TIME_LIMIT} 秒，已中止（模板中的循环过多或过大）"]
    try:
        return list(json.loads(done.stdout.decode("utf-8"))["problems"])
    except (ValueError, KeyError, UnicodeDecodeError):
        return ["用示例数据试生成时超出内存限制或异常退出（模板生成的内容过多）"]


def unpacked_size(docx: bytes) -> int:
    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        return sum(e.file_size for e in archive.infolist())


def _child(kind: str, data: bytes) -> list[str]:
    from duban.documents import kind_spec, render_template, sample_context

    try:
        out = render_template(data, sample_context(kind_spec(kind)))
    except MemoryError:
        return ["用示例数据试生成时超出内存限制（模板生成的内容过多）"]
    except Exception as exc:  # noqa: BLE001 - a template error of any kind is the user's to fix
        return [f"用示例数据试生成失败：{exc}"]
    size = unpacked_size(out)
    if size > OUTPUT_LIMIT:
        return [
            f"用示例数据试生成的文档达 {size / 1048576:.0f} MB，超过上限 "
            f"{OUTPUT_LIMIT / 1048576:.0f} MB（模板生成的内容过多）"
        ]
    return []


if __name__ == "__main__":
    problems = _child(sys.argv[1], sys.stdin.buffer.read())
    sys.stdout.write(json.dumps({"problems": problems}, ensure_ascii=False))
