"""Both languages are complete: every message the project's code and templates mark for
translation has an English translation in a compiled catalogue, keeping its placeholders, and
each committed ``.mo`` is compiled from its ``.po``. The interface is written in Chinese; the
catalogues live beside each app (``<app>/locale/en``) and, for the project's own templates and
settings, in ``locale/en``. After adding a message::

    cd <app> && ../manage.py makemessages -l en     # then fill in msgstr
    ../manage.py compilemessages -l en              # the .mo is committed with the .po

Messages are found the way ``makemessages`` finds them (a call of ``_``/``gettext``/
``ngettext``… with a literal, ``{% translate %}``/``{% blocktranslate %}`` through Django's own
template extractor), so a new one is checked without editing this file."""

from __future__ import annotations

import ast
import gettext as stdlib_gettext
import io
import re
import tokenize
from pathlib import Path

import pytest
from django.utils.translation import trans_real
from django.utils.translation.template import templatize

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ["accounts", "config", "dashboards", "facilities", "regions", "residents", "subsidies"]
SOURCES += ["servicelist", "templates", "visits"]
SKIPPED_DIRS = {"migrations", "locale", "static", "__pycache__"}
SINGULAR = {"_", "gettext", "gettext_lazy"}
PLURAL = {"ngettext", "ngettext_lazy"}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{\w*\}")


def project_files(suffixes):
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*")):
            if path.suffix in suffixes and not SKIPPED_DIRS & set(path.parts):
                yield path


def python_messages(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        literals = [a.value for a in node.args if isinstance(a, ast.Constant)]
        if name in SINGULAR and literals and isinstance(literals[0], str):
            yield literals[0], None
        elif name in PLURAL and len(literals) >= 2:
            yield literals[0], literals[1]


def line_tokens(line: str) -> list[tokenize.TokenInfo]:
    """The tokens of one line of the extractor's output (each call is on one line; the rest
    of the line is filler that may leave a bracket open)."""
    tokens = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(line.strip()).readline):
            tokens.append(token)
    except (tokenize.TokenError, SyntaxError):
        pass
    return tokens


def template_messages(path: Path):
    text = templatize(path.read_text(encoding="utf-8"), origin=str(path))
    for line in text.splitlines():
        if "gettext(" in line:
            yield from _calls(line_tokens(line))


def _calls(tokens):
    for i, token in enumerate(tokens[:-2]):
        if token.string not in {"gettext", "ngettext"} or tokens[i + 1].string != "(":
            continue
        strings = []
        for following in tokens[i + 2 :]:
            if following.type == tokenize.STRING:
                strings.append(ast.literal_eval(following.string))
            elif following.string != ",":
                break
        if strings:
            yield strings[0], strings[1] if token.string == "ngettext" else None


def all_messages() -> dict[str, tuple[str | None, str]]:
    found = {}
    for path in project_files({".py"}):
        for msgid, plural in python_messages(path):
            found.setdefault(msgid, (plural, str(path.relative_to(ROOT))))
    for path in project_files({".html", ".txt", ".js"}):
        if path.suffix == ".js" and "templates" not in path.parts:
            continue  # static scripts take their text from the page (translated there)
        for msgid, plural in template_messages(path):
            found.setdefault(msgid, (plural, str(path.relative_to(ROOT))))
    return found


MESSAGES = all_messages()


def test_the_extraction_finds_the_messages_of_code_and_templates():
    assert "老年人" in MESSAGES  # a model's verbose_name
    assert "立即发送" in MESSAGES  # {% translate %} on the phone page
    assert MESSAGES["%(n)s 张标签"][0] == "%(n)s 张标签"  # a plural {% blocktranslate %}
    assert len(MESSAGES) > 500


def test_every_message_has_an_english_translation_with_its_placeholders():
    catalog = trans_real.translation("en")._catalog
    missing, broken = [], []
    for msgid, (plural, where) in sorted(MESSAGES.items()):
        translated = catalog.get((msgid, 0)) if plural is not None else catalog.get(msgid)
        if not translated and msgid != "":
            missing.append(f"{where}: {msgid!r}")
            continue
        if sorted(PLACEHOLDER.findall(translated)) != sorted(PLACEHOLDER.findall(msgid)):
            broken.append(f"{where}: {msgid!r} → {translated!r}")
    assert not missing, "no English for:\n" + "\n".join(missing)
    assert not broken, "placeholders differ:\n" + "\n".join(broken)


def read_po(path: Path) -> dict[str, str]:
    """msgid → msgstr (the first form of a plural) of the translated, non-fuzzy entries."""
    entries, current, key, fuzzy = {}, {}, None, False
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if line.startswith("#,") and "fuzzy" in line:
            fuzzy = True
        match = re.match(r'^(msgid|msgid_plural|msgstr(?:\[0\])?|msgstr\[\d\])\s+(".*")$', line)
        if match:
            key = match.group(1)
            current[key] = ast.literal_eval(match.group(2))
        elif line.startswith('"') and key:
            current[key] += ast.literal_eval(line)
        elif not line.strip() and current:
            text = current.get("msgstr", current.get("msgstr[0]", ""))
            if current.get("msgid") and text and not fuzzy:
                entries[current["msgid"]] = text
            current, key, fuzzy = {}, None, False
    return entries


# The project's own catalogues in every language (locale/zh_Hans names django-axes in Chinese).
CATALOGUES = sorted(ROOT.glob("*/locale/en/LC_MESSAGES/django.po")) + sorted(
    ROOT.glob("locale/*/LC_MESSAGES/django.po")
)


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_committed_catalogue_is_compiled_from_its_source(po):
    with po.with_suffix(".mo").open("rb") as compiled:
        mo = stdlib_gettext.GNUTranslations(compiled)._catalog
    for msgid, msgstr in read_po(po).items():
        assert mo.get(msgid, mo.get((msgid, 0))) == msgstr, (
            f"{po.with_suffix('.mo')} is older than its .po ({msgid!r}): run compilemessages"
        )
