"""The documentation holds together: its links resolve, the README stays short, its counts are the verdicts'.

Every relative link and image of README.md and docs/**/*.md (docs/study included) must name a file
or folder that exists, and an anchor (#...) into a Markdown file must name one of its headings (as
GitHub makes them into ids) or an `<a id>` / `<a name>`. The README's verdict summary is typed by
hand, so it is checked against the published claims.md of each data set.
"""

import re
import sys
from collections import Counter
from urllib.parse import unquote

import pytest
from workflow_helpers import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"`[^`\n]*`")
# ](target) of a Markdown link or image (the text may hold brackets: "[0, 1]"); an optional "title".
MD_LINK = re.compile(r"\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']*)["']""", re.I)
HTML_ANCHOR = re.compile(r"""<a\s[^>]*\b(?:id|name)\s*=\s*["']([^"']+)["']""", re.I)
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)  # http:, https:, mailto:, ...


def prose_lines(text):
    """(line number, line) of a Markdown text outside fenced code blocks."""
    inside = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            inside = not inside
        elif not inside:
            yield number, line


def slug(heading):
    """The id GitHub gives a heading: lower case, punctuation dropped (not - or _), spaces to hyphens."""
    text = re.sub(r"<[^>]+>", "", heading)  # inline HTML
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link keeps its text
    text = "".join(ch for ch in text.lower() if ch.isalnum() or ch in " -_")
    return text.replace(" ", "-")


def anchors(path):
    """Every id a link may name in a Markdown file: its headings' slugs (repeats get -1, -2, ...) and <a id>."""
    text = path.read_text()
    found, seen = set(), Counter()
    for _, line in prose_lines(text):
        if m := HEADING.match(line):
            base = slug(m.group(2))
            found.add(base if not seen[base] else f"{base}-{seen[base]}")
            seen[base] += 1
    found.update(HTML_ANCHOR.findall(text))
    return found


def links(path):
    """(line number, target) of every link and image source in a Markdown file, code excluded."""
    for number, line in prose_lines(path.read_text()):
        line = INLINE_CODE.sub("``", line)
        for target in MD_LINK.findall(line) + HTML_LINK.findall(line):
            yield number, target


def broken_links(path):
    """'file:line: target (why)' for each relative link of path that does not resolve."""
    bad = []
    for number, target in links(path):
        if not target or EXTERNAL.match(target):
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / unquote(file_part)).resolve() if file_part else path
        where = f"{path.relative_to(REPO)}:{number}: {target}"
        if not dest.exists():
            bad.append(f"{where} (no such file)")
        elif not dest.is_relative_to(REPO):
            bad.append(f"{where} (outside the repository)")
        elif anchor and dest.suffix == ".md" and unquote(anchor) not in anchors(dest):
            bad.append(f"{where} (no heading or <a id> {anchor!r} in {dest.relative_to(REPO)})")
    return bad


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(path):
    assert broken_links(path) == []


def test_the_link_check_finds_a_missing_file_a_missing_anchor_and_skips_code(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    (tmp_path / "a.md").write_text("# Title\n\n## The `cb` claims: [0, 1]\n\n## Title\n<a id=\"here\"></a>\n")
    page = tmp_path / "b.md"
    page.write_text("\n".join([
        "[ok](a.md#title) [ok](a.md#title-1) [ok](a.md#the-cb-claims-0-1) [ok](a.md#here) [ok](#local)",
        "## Local",
        "[gone](missing.md) [anchor](a.md#nowhere) <img src=\"gone.png\"> [web](https://example.org/x)",
        "```", "[in code](missing_in_code.md)", "```", "`[inline](missing_inline.md)`",
    ]))
    assert broken_links(page) == [
        "b.md:3: missing.md (no such file)",
        "b.md:3: a.md#nowhere (no heading or <a id> 'nowhere' in a.md)",
        "b.md:3: gone.png (no such file)",
    ]


def test_readme_is_short_and_starts_with_quick_start():
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) < 250, f"README.md has {len(lines)} lines; move detail to docs/"
    assert any(re.match(r"#+\s+Quick start", line) for line in lines[:60]), "Quick start must begin in the first 60 lines"
    assert "make run" in "\n".join(lines[:60]) and "make test" in "\n".join(lines[:60])


def test_architecture_lists_every_module_once():
    """docs/architecture.md's module table has one row per module of workflow/reconloss, and no row for a gone one."""
    package = REPO / "workflow" / "reconloss"
    modules = sorted(str(p.relative_to(package)) for p in package.rglob("*.py"))
    text = (REPO / "docs" / "architecture.md").read_text()
    listed = re.findall(r"^\| [a-z]+ \| `([\w/]+\.py)` \|", text, re.M)
    repeated = sorted(m for m, n in Counter(listed).items() if n > 1)
    assert (sorted(set(modules) - set(listed)), sorted(set(listed) - set(modules)), repeated) == ([], [], [])
