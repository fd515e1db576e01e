#!/usr/bin/env python3
"""Every reference in the repository resolves: a requirement id cited anywhere (R-KC1, X-3, SEC-7, B2, …) has
an anchor in docs/requirements.md; nothing cites a section of the spec that lives outside the repository (the
word SPEC, then a section sign); no comment, test name or message cites an issue by its number (the word
issue, or a hash sign, then digits) or an issue's finding by its number.

Run from the repository root (python3 scripts/check_references.py); exits 1 listing each breach as file:line.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REQUIREMENTS = Path("docs/requirements.md")

# Directories never read: version control, build output, installed packages, fuzz corpora (data, not text).
SKIP_DIRS = {".git", "target", "node_modules", "__fuzz__"}
# Files never read: generated reports (rewritten by noegle-bench).
SKIP_FILES = {Path("docs/benchmarks.md"), Path("docs/benchmarks.json")}
# Binary files by name; anything else that is not UTF-8 is skipped too.
BINARY_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".ico", ".pdf", ".woff", ".woff2", ".wasm", ".gz", ".zip", ".der"}
# Files where a hash sign and digits are a colour, never an issue.
STYLE_SUFFIXES = {".css", ".html", ".svg"}

# A requirement id: the families of docs/requirements.md. Not preceded or followed by a word character or a
# hyphen, so `X-Forwarded-For`, `X-Noegle-Nonce` and `B64` are not ids.
ID = re.compile(r"(?<![\w-])(R-(?:KC|LB|APP)\d*|X-\d+|I-[A-Z]+|S-[A-Z]+|SEC-(?:\d+|[A-Z]+)|B\d|B-[A-Z]+)(?![\w-])")
ANCHOR = re.compile(r"""<a\s+id=["']([^"']+)["']""")
SPEC = re.compile(r"\bSPEC(?:\s*§\s*[\d.]*\d|\s*§|\.md\b)")
# The word issue (or issues, PR, pull request), then a number, with or without a hash sign, also when a
# comment's line break falls between them.
ISSUE = re.compile(r"\b(?:[Ii]ssues?|PR|[Pp]ull request)(?:\s|//[!/]?|#(?=\s)|\*|--)*#?\d+\b")
FINDING = re.compile(r"\b[Ff]inding \d+\b|\breview,? points? \d+\b")
# A hash sign and digits on their own: not after a word (`PKCS#8`, a URL fragment), an entity's `&#`, a raw
# string's `r#`, or before a letter (`#[test]`, a hex colour with letters).
HASH_NUMBER = re.compile(r"(?<![\w&#/'\"\\])#(\d{1,8})(?![\w-])")
CSS_COLOUR_CONTEXT = re.compile(r"(colou?r|background|shadow|border|fill|stroke|outline)\s*:", re.I)


def candidates(root: Path):
    """The files to read, relative to `root`: what git tracks or would add (so ignored build output and test
    screenshots are left out), or, outside a git checkout, every file not under a skipped directory."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root, capture_output=True, check=True,
        ).stdout.decode("utf-8", "surrogateescape")
        yield from sorted({Path(name) for name in listed.split("\0") if name})
    except (OSError, subprocess.CalledProcessError):
        for top, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
            yield from (Path(top, name).relative_to(root) for name in sorted(files))


def text_files(root: Path):
    """Yields every text file the check reads, as a path relative to `root`, with its text."""
    for rel in candidates(root):
        path = root / rel
        if any(part in SKIP_DIRS for part in rel.parts) or rel in SKIP_FILES:
            continue
        if path.suffix.lower() in BINARY_SUFFIXES or path.is_symlink() or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if "\0" not in text:
            yield rel, text


def line_of(text: str, offset: int) -> int:
    """The 1-based line number of `offset` in `text`."""
    return text.count("\n", 0, offset) + 1


def is_colour(rel: Path, text: str, match: re.Match) -> bool:
    """Whether `#digits` is a CSS colour rather than an issue number."""
    if rel.suffix.lower() in STYLE_SUFFIXES:
        return True
    start = text.rfind("\n", 0, match.start()) + 1
    before = text[start : match.start()]
    return len(match.group(1)) in (3, 4, 6, 8) and bool(CSS_COLOUR_CONTEXT.search(before))


def breaches(rel: Path, text: str, anchors: set[str]):
    """Yields (line, message) for every reference in `text` that resolves nowhere."""
    for m in ID.finditer(text):
        if m.group(1) not in anchors:
            yield line_of(text, m.start()), f"{m.group(1)} has no anchor in {REQUIREMENTS}"
    for m in SPEC.finditer(text):
        yield line_of(text, m.start()), f"'{m.group(0)}' cites a document outside the repository; cite the requirement id"
    for m in ISSUE.finditer(text):
        said = " ".join(m.group(0).split())
        yield line_of(text, m.start()), f"'{said}' cites an issue number; say the rule (and its requirement id)"
    for m in FINDING.finditer(text):
        yield line_of(text, m.start()), f"'{m.group(0)}' cites an issue's finding by number; say the rule"
    for m in HASH_NUMBER.finditer(text):
        if not is_colour(rel, text, m):
            yield line_of(text, m.start()), f"'{m.group(0)}' reads as an issue number; say the rule"


def main() -> int:
    root = Path.cwd()
    if not (root / REQUIREMENTS).is_file():
        print(f"{REQUIREMENTS} not found: run from the repository root", file=sys.stderr)
        return 2
    anchors = set(ANCHOR.findall((root / REQUIREMENTS).read_text(encoding="utf-8")))
    found = []
    for rel, text in text_files(root):
        found.extend(f"{rel}:{line}: {message}" for line, message in sorted(breaches(rel, text, anchors)))
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} reference(s) resolve nowhere (ids: {REQUIREMENTS})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
