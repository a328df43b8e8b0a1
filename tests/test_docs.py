"""The documentation site's static checks: every public name has a docstring, every relative
link in README.md and docs/ resolves (a file, and a heading of it when the link names one), and
the generated reference pages list every registered method.

The site itself is built (notebooks executed, warnings as errors) by ``.ci/run``:
``python -m sphinx -W --keep-going -b html docs docs/_build/html``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

import bayescity as bc

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS / "_ext"))
import bcdocs  # noqa: E402

LINK = re.compile(r"(?<!\!)\[[^\]]*\]\(([^)\s]+)\)|href=\"([^\"]+)\"")
FENCE = re.compile(r"^(```|~~~|:::)")
#: Pages whose body is generated at build time, with the generator of their headings.
GENERATED = {DOCS / "reference" / "parameters.md": bcdocs.parameters_markdown}


def slug(heading: str) -> str:
    """A heading's anchor as GitHub and MyST (``myst_heading_anchors``) write it."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code removed."""
    out, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line.strip()) and not line.strip().startswith(("```{", ":::{")):
            fenced = not fenced
            continue
        if line.strip().startswith("```{") and "code-cell" in line:
            fenced = True
            continue
        if not fenced:
            out.append(re.sub(r"`[^`]*`", "", line))
    return out


def anchors(path: Path) -> set[str]:
    """The heading anchors of a Markdown file (and of its generated body)."""
    text = path.read_text(encoding="utf-8")
    if path in GENERATED:
        text += "\n" + GENERATED[path]()
    heads = [m.group(1) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*$", text, re.M)]
    return {slug(h) for h in heads}


def broken_links(path: Path) -> list[str]:
    """Relative links of a Markdown file whose target file or heading does not exist."""
    problems = []
    prose = "\n".join(_prose_lines(path.read_text(encoding="utf-8")))
    for match in LINK.finditer(prose):       # a link's text may run over a line break
        target = match.group(1) or match.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):      # http:, https:, mailto: ...
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            problems.append(f"{path.relative_to(ROOT)}: {target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"{path.relative_to(ROOT)}: {target} (no heading #{anchor})")
    return problems


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(p for p in DOCS.rglob("*.md")
                                        if "_build" not in p.parts and "_generated" not in p.parts)]


def test_every_public_name_has_a_docstring():
    assert bcdocs.missing_docstrings() == []


def test_docstring_check_finds_a_missing_docstring(monkeypatch):
    def undocumented():
        pass

    monkeypatch.setattr(bc, "undocumented", undocumented, raising=False)
    monkeypatch.setattr(bc, "__all__", [*bc.__all__, "undocumented"])
    assert "bayescity.undocumented" in bcdocs.missing_docstrings()


def test_every_relative_link_in_readme_and_docs_resolves():
    files = markdown_files()
    assert ROOT / "README.md" in files and len(files) >= 10
    problems = [p for f in files for p in broken_links(f)]
    assert problems == []


def test_readme_links_every_page_of_the_site():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    pages = [p.relative_to(ROOT).as_posix() for p in markdown_files()[1:]]
    assert [p for p in pages if f"]({p}" not in readme] == []


def test_link_check_reports_a_missing_file_and_a_missing_heading(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    (tmp_path / "other.md").write_text("# A title\n\n## Second part\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text("[ok](other.md#second-part) [gone](missing.md) [bad\ntext](other.md#nope)\n"
                    "`[code](missing.md)` [web](https://example.org)\n\n```\n[x](nowhere.md)\n```\n",
                    encoding="utf-8")
    assert broken_links(page) == ["page.md: missing.md (no such file)",
                                  "page.md: other.md#nope (no heading #nope)"]


@pytest.mark.parametrize("heading, anchor", [
    ("Step 1: TFP from inputs", "step-1-tfp-from-inputs"),
    ("`callaway_santanna`", "callaway_santanna"),
    ("Few clusters, covariates", "few-clusters-covariates"),
])
def test_heading_anchors_follow_myst_and_github(heading, anchor):
    assert slug(heading) == anchor


def test_every_cross_reference_of_the_pages_names_a_documented_object():
    """``{func}`` and ``{class}`` roles name an object of the API reference, ``{mod}`` a module
    it documents (Sphinx alone would render a missing target as plain code)."""
    roles = re.compile(r"\{(func|class|meth|mod)\}`~?([\w.]+)`")
    names = set(bcdocs.documented_names())
    modules = {m for m in bcdocs.public_modules() if f".. automodule:: {m}\n" in
               bcdocs.api_markdown()}
    missing = [f"{page.relative_to(ROOT)}: {{{kind}}}`{target}`"
               for page in markdown_files()[1:]
               for kind, target in roles.findall(page.read_text(encoding="utf-8"))
               if target not in (modules if kind == "mod" else names)]
    assert missing == []


def test_generated_reference_lists_every_method_and_parameter():
    text = bcdocs.parameters_markdown()
    for method in bc.available_methods():
        assert f"\n## {method}\n" in text
        for row in bc.get_estimator(method).describe_params():
            assert f"| `{row['name']}` |" in text
    api = bcdocs.api_markdown()
    for name in bc.__all__:
        obj = getattr(bc, name)
        if isinstance(obj, type) or callable(obj):
            assert f"bayescity.{name}\n" in api, name


def test_tests_readme_lists_every_test_file():
    listed = set(re.findall(r"^\| `(test_\w+\.py)`", (ROOT / "tests" / "README.md").read_text(),
                            flags=re.MULTILINE))
    files = {p.name for p in (ROOT / "tests").glob("test_*.py")}
    assert files == listed, (sorted(files - listed), sorted(listed - files))
