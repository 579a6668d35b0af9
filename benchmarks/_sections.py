"""Marked sections of benchmarks/results.md: each benchmark script owns one and rewrites only it."""
from __future__ import annotations

from pathlib import Path

SECTION_START, SECTION_END = "<!-- section:", "<!-- /section -->"


def section_open(name: str) -> str:
    """The line that opens section ``name`` (closed by :data:`SECTION_END`)."""
    return f"{SECTION_START}{name} -->"


def write_section(md_path: Path, name: str, section: str) -> None:
    """Put ``section`` (opened by :func:`section_open`, closed by :data:`SECTION_END`) in place of
    the file's section ``name``, or append it; the rest of the file is kept."""
    text = md_path.read_text(encoding="utf-8") if md_path.exists() else "# Benchmark results\n"
    start = text.find(section_open(name))
    if start >= 0:
        end = text.find(SECTION_END, start) + len(SECTION_END)
        text = text[:start] + section + text[end:]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    md_path.write_text(text, encoding="utf-8")


def kept_sections(md_path: Path) -> str:
    """The marked sections of the existing results.md, to be kept when run_benchmark.py rewrites it."""
    if not md_path.exists():
        return ""
    text, out, pos = md_path.read_text(encoding="utf-8"), [], 0
    while (start := text.find(SECTION_START, pos)) >= 0 and (end := text.find(SECTION_END, start)) >= 0:
        out.append(text[start:end + len(SECTION_END)])
        pos = end + len(SECTION_END)
    return "".join(f"\n{s}\n" for s in out)
