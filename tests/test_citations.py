"""Every policy citation in the repository resolves inside it.

Code, data, templates and tests cite the policy digest as ``docs/policy.md §N`` (or a link to its
anchor ``docs/policy.md#sN``). A cited section that has no heading in the digest is a broken
citation, and so is any citation of the digest by its old name outside this repository, which
nobody reading the code can open.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DIGEST = ROOT / "docs" / "policy.md"

# Files that hold code, data, templates, translations or prose.
SUFFIXES = {
    ".py",
    ".toml",
    ".html",
    ".txt",
    ".csv",
    ".md",
    ".po",
    ".json",
    ".yml",
    ".yaml",
    ".js",
    ".cfg",
    ".ini",
    ".sh",
    ".sql",
}
# Generated, installed or cached trees, not the project's own text.
SKIPPED_DIRS = {
    ".git",
    ".venv",
    ".hypothesis",
    ".ruff_cache",
    ".pytest_cache",
    "__pycache__",
    "node_modules",
    "var",
    "media",
    "staticfiles",
    "test-artifacts",
    "e2e-artifacts",
}

# "docs/policy.md §1", "docs/policy.md §0, §1", "docs/policy.md §1、§5", "docs/policy.md#s5".
CITATION = re.compile(r"docs/policy\.md((?:\s*[,，、]?\s*§\d+)+)")
SECTION = re.compile(r"§(\d+)")
ANCHOR_LINK = re.compile(r"docs/policy\.md#(s\d+)")
HEADING = re.compile(r"^#{1,6}\s+§(\d+)\b", re.MULTILINE)
ANCHOR = re.compile(r'^<a id="(s\d+)"></a>\s*$', re.MULTILINE)
# Spelled in two parts so that this file does not cite the old name itself.
OLD_NAME = "POLICY" + ".md"


def project_files() -> list[Path]:
    found = []
    for path in ROOT.rglob("*"):
        relative = path.relative_to(ROOT)
        if any(part in SKIPPED_DIRS or part.endswith(".egg-info") for part in relative.parts):
            continue
        if path.is_file() and path.suffix in SUFFIXES:
            found.append(path)
    return found


def digest_sections() -> set[str]:
    return set(HEADING.findall(DIGEST.read_text(encoding="utf-8")))


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def test_every_cited_section_is_a_heading_of_the_digest():
    sections = digest_sections()
    cited, broken = 0, []
    for path in project_files():
        text = read(path)
        for match in CITATION.finditer(text):
            for number in SECTION.findall(match.group(1)):
                cited += 1
                if number not in sections:
                    line = text.count("\n", 0, match.start()) + 1
                    broken.append(f"{path.relative_to(ROOT)}:{line}: §{number}")
        for anchor in ANCHOR_LINK.findall(text):
            cited += 1
            if anchor[1:] not in sections:
                broken.append(f"{path.relative_to(ROOT)}: #{anchor}")
    assert not broken, "citations of docs/policy.md with no such section:\n" + "\n".join(broken)
    # The scan found the project's citations (a wrong root would pass vacuously).
    assert cited >= 20


def test_nothing_outside_docs_cites_the_digest_by_its_old_name():
    offenders = [
        str(path.relative_to(ROOT))
        for path in project_files()
        if path.relative_to(ROOT).parts[0] != "docs" and OLD_NAME in read(path)
    ]
    assert not offenders, f"cite docs/policy.md instead of {OLD_NAME} in: {offenders}"


def test_each_section_of_the_digest_has_a_stable_anchor_just_before_its_heading():
    text = DIGEST.read_text(encoding="utf-8")
    lines = text.splitlines()
    sections = [(i, m) for i, line in enumerate(lines) if (m := HEADING.match(line))]
    assert sections, "the digest has no § headings"
    numbers = [m.group(1) for _, m in sections]
    assert len(numbers) == len(set(numbers)), f"a § number is used twice: {numbers}"
    for index, match in sections:
        assert lines[index - 1] == f'<a id="s{match.group(1)}"></a>', (
            f'§{match.group(1)} needs <a id="s{match.group(1)}"></a> on the line before it'
        )
    assert set(ANCHOR.findall(text)) == {f"s{n}" for n in numbers}


@pytest.mark.parametrize(
    ("title", "section"),
    [
        ("Jurisdictions", "0"),
        ("Allowances", "1"),
        ("Facilities", "2"),
        ("Staffing", "3"),
        ("One person, one bed, one code", "4"),
        ("Waiting lists", "5"),
        ("Visits", "6"),
        ("Settings the documents leave open", "13"),
    ],
)
def test_topic_numbers_keep_their_meaning(title, section):
    """Citations written against these numbers stay right only if the topics do not move."""
    heading = re.search(rf"^#{{1,6}}\s+§{section}\s+(.*)$", read(DIGEST), re.MULTILINE)
    assert heading and heading.group(1).startswith(title)
