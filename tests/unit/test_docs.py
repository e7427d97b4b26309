"""The documentation stays true to the code: every setting documented, links that resolve.

README.md is the front door (what it is, the two commands, layout, rules, where the docs
are); the details live in docs/*.md. These checks keep that split honest.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from server.settings import Settings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
SETTINGS_DOC = DOCS / "settings.md"

# [text](target) outside code spans; the target up to a space, `)` or `#`.
LINK = re.compile(r"\[[^\]]*\]\(([^)\s#]*)(?:#[^)\s]*)?\)")


def _documented_variables() -> list[str]:
    """The variable names in the first column of the settings table, in order."""
    names: list[str] = []
    for line in SETTINGS_DOC.read_text().splitlines():
        if not line.startswith("| `"):
            continue
        first_cell = line.split("|")[1]
        names += re.findall(r"`([A-Z][A-Z0-9_]*)`", first_cell)
    return names


def _markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def _links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)  # no links in code blocks
    text = re.sub(r"`[^`\n]*`", "", text)
    return [target for target in LINK.findall(text) if target]


def test_every_setting_has_a_row_in_docs_settings():
    documented = set(_documented_variables())
    fields = {name.upper() for name in Settings.model_fields}
    assert sorted(fields - documented) == [], "settings without a row in docs/settings.md"


def test_every_documented_variable_is_a_setting_and_appears_once():
    documented = _documented_variables()
    fields = {name.upper() for name in Settings.model_fields}
    assert sorted(set(documented) - fields) == [], "rows in docs/settings.md for no setting"
    duplicates = sorted({name for name in documented if documented.count(name) > 1})
    assert duplicates == [], "variables with more than one row in docs/settings.md"


def test_readme_is_a_front_door_naming_the_two_commands():
    text = README.read_text()
    assert "make run" in text and "make test" in text
    lines = text.count("\n")
    assert lines <= 200, f"README.md has {lines} lines; move details to docs/*.md"


def test_every_doc_is_linked_from_the_readme():
    linked = {(README.parent / target).resolve() for target in _links(README)}
    unlinked = [p.name for p in sorted(DOCS.glob("*.md")) if p.resolve() not in linked]
    assert unlinked == [], "docs/*.md not linked from README.md"


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: p.name)
def test_relative_links_resolve_inside_the_repository(path: Path):
    """The repository is self-contained: no link leaves it (as `../shared/…` once did)."""
    broken = []
    for target in _links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        resolved = (path.parent / target).resolve()
        if not resolved.is_relative_to(ROOT) or not resolved.exists():
            broken.append(target)
    assert broken == [], f"{path.name}: links that do not resolve inside the repository"
    outside = re.findall(r"`(\.\./[^`]*)`", path.read_text())
    assert outside == [], f"{path.name}: paths outside the repository"


def test_make_run_binds_loopback_by_default():
    """Bug: `make run` bound 0.0.0.0 with the published dev secret, exposing a dev api to the
    network; the default is loopback and exposing it is an explicit `HOST=0.0.0.0`."""
    from scripts.run_dev import main  # noqa: F401 (the module the Makefile runs)

    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^HOST \?= 127\.0\.0\.1$", makefile, re.MULTILINE)
    run_dev = (ROOT / "scripts" / "run_dev.py").read_text()
    assert 'add_argument("--host", default="127.0.0.1"' in run_dev
    assert "HOST=0.0.0.0" in README.read_text()
