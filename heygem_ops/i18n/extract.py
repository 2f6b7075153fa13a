"""Keep the catalogues in step with the code: find every message id, write heygem.pot, merge it into each .po.

Message ids are the string constants passed to `Message(...)`, `N_(...)`, `translate(...)`, and to the
classes of the error tree (the message and `hint=`). An f-string or concatenation there cannot be
translated, so it is reported as a problem; tests/test_i18n.py fails on problems, on a stale .pot and
on a catalogue whose ids or parameters differ from the code's.

    python -m heygem_ops.i18n.extract     # after changing messages; then translate the new entries
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog

from heygem_ops.i18n import DEFAULT, DOMAIN, LANGUAGES, LOCALES, catalogue_path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("heygem_ops", "flows", "tasks")
MARKERS = {"Message", "N_", "translate"}
POT = LOCALES / f"{DOMAIN}.pot"


def error_names() -> set[str]:
    """Names of the classes in the error tree (HeyGemError and its subclasses)."""
    from heygem_ops import errors

    found, todo = set(), [errors.HeyGemError]
    while todo:
        cls = todo.pop()
        found.add(cls.__name__)
        todo += cls.__subclasses__()
    return found


@dataclass(frozen=True)
class Found:
    msgid: str | None  # None: a problem (an expression where a constant id belongs)
    where: str  # "path:line"


def _name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _take(node: ast.expr | None, where: str) -> Iterator[Found]:
    if node is None or (isinstance(node, ast.Constant) and node.value is None):
        return
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield Found(node.value, where)
    elif isinstance(node, ast.IfExp):  # "a" if x else "b": both are ids
        yield from _take(node.body, where)
        yield from _take(node.orelse, where)
    elif isinstance(node, ast.BoolOp):  # chosen or "default"
        for value in node.values:
            yield from _take(value, where)
    elif isinstance(node, ast.JoinedStr | ast.BinOp) or (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"
    ):
        yield Found(None, where)  # built text: not translatable


def scan(path: Path, errors: set[str]) -> Iterator[Found]:
    """The message ids (and problems) of one source file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    relative = path.relative_to(ROOT)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name, where = _name(node), f"{relative}:{node.lineno}"
        if name in MARKERS and node.args:
            yield from _take(node.args[0], where)
        elif name in errors:
            yield from _take(node.args[0] if node.args else None, where)
            for keyword in node.keywords:
                if keyword.arg == "hint":
                    yield from _take(keyword.value, where)


def extract() -> tuple[dict[str, list[str]], list[str]]:
    """(msgid → the places it is used, places where a message is built instead of given as an id)."""
    errors = error_names()
    ids: dict[str, list[str]] = {}
    problems: list[str] = []
    for source in SOURCES:
        for path in sorted((ROOT / source).rglob("*.py")):
            for found in scan(path, errors):
                if found.msgid is None:
                    problems.append(found.where)
                else:
                    ids.setdefault(found.msgid, []).append(found.where)
    return ids, problems


def template(ids: dict[str, list[str]]) -> Catalog:
    """The English catalogue (heygem.pot) of these ids, as a Babel catalogue."""
    pot = Catalog(domain=DOMAIN, project="HeyGem-Ops", fuzzy=False)
    for msgid in sorted(ids):
        pot.add(msgid)  # no source locations: the catalogues change only when the messages do
    return pot


def main() -> None:
    from babel.messages.pofile import read_po, write_po

    ids, problems = extract()
    for where in problems:
        print(f"{where}: a message built from pieces; pass an id with named parameters instead")
    pot = template(ids)
    with open(POT, "wb") as handle:
        write_po(handle, pot, width=0, omit_header=True, sort_output=True, no_location=True)
    for lang in LANGUAGES:
        if lang == DEFAULT:
            continue
        path = catalogue_path(lang)
        with open(path, "rb") as handle:
            translated = read_po(handle, locale=lang)
        translated.update(pot, no_fuzzy_matching=True)
        with open(path, "wb") as handle:
            write_po(
                handle, translated, width=0, omit_header=True, sort_output=True, no_location=True, ignore_obsolete=True
            )
        untranslated = sum(1 for message in translated if message.id and not message.string)
        print(f"{path.relative_to(ROOT)}: {len(ids)} messages, {untranslated} to translate")


if __name__ == "__main__":
    main()
