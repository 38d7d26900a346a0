"""``sbp-brian docs``: the parts of README.md and docs/ that are generated from data.

A page holds a generated part between two markers::

    <!-- generated: NAME -->
    ...
    <!-- end generated: NAME -->

and ``sbp-brian docs`` rewrites what lies between them; ``sbp-brian docs --check`` only
reports the parts that differ (a test runs it), so a page cannot fall out of step with what
it is made from.  The names:

``result ID``
    a measured result of the registry ``docs/results.toml`` (:mod:`sbp_brian.results`);
``headline``
    README's results table (:func:`sbp_brian.results.render_headline`);
``model-file reference``
    every section and key a model file accepts, with unit, range, default and meaning, read
    from the schema tables the loader checks files against (:mod:`sbp_brian.model_files`);
``options COMMAND``
    the options of ``sbp-brian COMMAND``, read from the command's own parser.

The check also fails when a registry entry is shown on no page or on two, when a JSON file
under ``figures/training/`` or ``bench/`` is no entry's artifact, when a marker names
nothing this module knows, and when an ``sbp-brian`` command in a fenced code block of a
page (a line of its own, or one of a chain such as README's first command) does not parse (a
renamed or misspelt option) or names a model file that does not exist
(:func:`command_problems`): a command shown to users always runs.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from pathlib import Path
from typing import Callable

from .results import ResultsError, load_registry, render_headline, render_result

__all__ = ["PAGES", "generated_parts", "regenerate", "model_file_reference", "options_table",
           "DocsError"]

#: The pages that may hold generated parts, relative to the repository root.
PAGES = ("README.md", "docs/*.md")

#: Folders whose JSON files are measured results that must each be a registry entry.
ARTIFACT_FOLDERS = ("figures/training", "bench")

#: A fenced code block of a Markdown page.
FENCE = re.compile(r"^```[^\n]*\n(?P<code>.*?)^```", re.MULTILINE | re.DOTALL)

BLOCK = re.compile(r"<!-- generated: (?P<name>[^>]+?) -->\n(?P<body>.*?)"
                   r"<!-- end generated: (?P=name) -->", re.DOTALL)


class DocsError(ResultsError):
    """A page's generated parts cannot be made (unknown name, missing root, bad registry)."""


def page_files(root: Path) -> list[Path]:
    files = []
    for pattern in PAGES:
        files += sorted(root.glob(pattern))
    return files


def _page_dir(page: Path, root: Path) -> str:
    return page.parent.relative_to(root).as_posix()


def generator(name: str, root: Path, page_dir: str) -> Callable[[], str]:
    """The function that makes the generated part called ``name``."""
    kind, _, argument = name.partition(" ")
    if name == "headline":
        return lambda: render_headline(root)
    if name == "model-file reference":
        return model_file_reference
    if kind == "options":
        return lambda: options_table(argument)
    if kind == "result":
        registry = load_registry(root)
        if argument not in registry:
            raise DocsError(f"no result {argument!r} in {root / 'docs/results.toml'}")
        return lambda: render_result(root, registry[argument], page_dir)
    raise DocsError(f"unknown generated part {name!r}; expected 'headline', 'model-file "
                    "reference', 'options COMMAND' or 'result ID'")


def generated_parts(root: Path) -> dict[Path, str]:
    """Every page's text with its generated parts made afresh (pages without any left out)."""
    pages = {}
    for page in page_files(root):
        text = page.read_text()
        page_dir = _page_dir(page, root)

        def fill(match: re.Match) -> str:
            name = match["name"]
            body = generator(name, root, page_dir)().strip("\n")
            return f"<!-- generated: {name} -->\n{body}\n<!-- end generated: {name} -->"

        new = BLOCK.sub(fill, text)
        if BLOCK.search(text):
            pages[page] = new
    return pages


def coverage_problems(root: Path) -> list[str]:
    """Registry entries shown on no page or on several, and artifacts that are no entry's."""
    registry = load_registry(root)
    shown: dict[str, list[str]] = {}
    for page in page_files(root):
        for match in BLOCK.finditer(page.read_text()):
            kind, _, argument = match["name"].partition(" ")
            if kind == "result":
                shown.setdefault(argument, []).append(page.relative_to(root).as_posix())
    problems = []
    for name, entry in registry.items():
        pages = shown.get(name, [])
        expected = f"docs/{entry.page}.md"
        if pages != [expected]:
            problems.append(f"result {name!r} must be shown once, on {expected}; it is on "
                            f"{', '.join(pages) or 'no page'}")
    artifacts = {entry.artifact for entry in registry.values()}
    for folder in ARTIFACT_FOLDERS:
        for path in sorted((root / folder).glob("*.json")):
            relative = path.relative_to(root).as_posix()
            if relative not in artifacts:
                problems.append(f"{relative} is a measured result but no entry of "
                                "docs/results.toml names it")
    return problems


def regenerate(root: Path | str = ".", check: bool = False) -> list[str]:
    """Rewrite the generated parts of the pages under ``root`` (or, with ``check``, only
    compare them).  Returns the problems found: pages whose generated parts differ (with
    ``check``; otherwise they are rewritten) and coverage problems."""
    root = Path(root)
    if not (root / "docs").is_dir() or not (root / "README.md").is_file():
        raise DocsError(f"{root.resolve()} is not the repository root (no README.md and docs/)")
    problems = []
    for page, new in generated_parts(root).items():
        if new != page.read_text():
            if check:
                problems.append(f"{page.relative_to(root)}: generated parts differ from what "
                                "their data give (run `sbp-brian docs`)")
            else:
                page.write_text(new)
    return problems + coverage_problems(root) + command_problems(root)


# --------------------------------------------------------------------------------------
# The commands shown on the pages
# --------------------------------------------------------------------------------------

def documented_commands(text: str) -> list[list[str]]:
    """Every ``sbp-brian`` invocation in the fenced code blocks of a Markdown text, as its
    words: a line's shell comment is dropped, and a line that chains commands (``&&``,
    ``;``, ``|``) gives each ``sbp-brian`` among them."""
    commands = []
    for block in FENCE.finditer(text):
        for line in block["code"].splitlines():
            if "sbp-brian" not in line:
                continue
            lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            command: list[str] = []
            for word in [*lexer, ";"]:
                if word in ("&&", "||", ";", "|", "&"):
                    if command[:1] == ["sbp-brian"]:
                        commands.append(command)
                    command = []
                else:
                    command.append(word)
    return commands


def _is_placeholder(word: str) -> bool:
    return word.isupper()


def command_problem(argv: list[str]) -> str | None:
    """Why a documented ``sbp-brian`` command (its words) would not run as written (``None``
    if it parses and the model file it names exists): the parser's own message, or the
    missing model."""
    from .cli import build_parser
    from .model_files import bundled_models
    message = io.StringIO()
    try:
        with contextlib.redirect_stderr(message):
            args = build_parser().parse_args(argv[1:])
    except SystemExit:
        return message.getvalue().strip().splitlines()[-1]
    model = getattr(args, "model", None)
    if model and not _is_placeholder(model) and model not in bundled_models() \
            and not Path(model).exists():
        return f"no model file {model!r} (bundled: {', '.join(bundled_models())})"
    return None


def command_problems(root: Path) -> list[str]:
    """Every documented ``sbp-brian`` line that would not run, with the page it is on."""
    problems = []
    for page in page_files(root):
        for command in documented_commands(page.read_text()):
            problem = command_problem(command)
            if problem:
                problems.append(f"{page.relative_to(root)}: `{shlex.join(command)}`: {problem}")
    return problems


# --------------------------------------------------------------------------------------
# The model-file reference
# --------------------------------------------------------------------------------------

def _range(param) -> str:
    low, high = param.low, param.high
    unit = "" if param.dimensionless else f" {param.unit}"
    if low is None and high is None:
        return "any"
    if high is None:
        return f"{'>' if param.strict_low else '>='} {low:g}{unit}"
    if low is None:
        return f"<= {high:g}{unit}"
    return f"{'(' if param.strict_low else '['}{low:g}, {high:g}]{unit}"


def _default(param) -> str:
    from .parameters import format_quantity
    return "required" if param.default is None else format_quantity(param.default)


def _choice(value) -> str:
    return f"`{str(value).lower()}`" if isinstance(value, bool) else f'`"{value}"`'


def _param_table(params: dict, options: dict, option_docs: dict) -> str:
    from .results import table
    rows = [[f"`{name}`", ("integer" if p.integer else "1") if p.dimensionless else str(p.unit),
             _range(p), _default(p), p.doc] for name, p in params.items()]
    for name, choices in options.items():
        default, meaning = option_docs.get(name, (None, ""))
        rows.append([f"`{name}`", "option", " / ".join(map(_choice, choices)),
                     "" if default is None else _choice(default), meaning])
    return table(["key", "unit", "range", "default", "meaning"], rows)


def _first_line(function) -> str:
    return (function.__doc__ or "").strip().partition("\n")[0]


def model_file_reference() -> str:
    """Every section, component and key of a model file, from the loader's schema tables."""
    from . import model_files as mf
    from .sections import SECTIONS
    parts = ["### Sections", ""]
    for name, section in SECTIONS.items():
        parts += [f"`[{name}]`", "",
                  _param_table(section.params, section.options, section.option_docs), ""]
    parts += ["### Neuron models: `[neurons.POPULATION]`, `model = \"NAME\"`", ""]
    for name, kind in mf.NEURON_COMPONENTS.items():
        parts += [f"`model = \"{name}\"`: {_first_line(kind.factory)}", "",
                  _param_table(kind.params, kind.options, kind.option_docs), ""]
    parts += ["### Homeostasis: `[neurons.hidden.homeostasis]`", "",
              f"{_first_line(mf.HOMEOSTASIS.factory)}", "",
              _param_table(mf.HOMEOSTASIS.params, mf.HOMEOSTASIS.options,
                            mf.HOMEOSTASIS.option_docs), ""]
    parts += ["### Synapse components: `[synapses.PROJECTION.ROLE]`, ROLE one of "
              f"{', '.join(f'`{r}`' for r in mf.SYNAPSE_ROLES)}", ""]
    for name, kind in mf.SYNAPSE_COMPONENTS.items():
        parts += [f"`model = \"{name}\"`: {_first_line(kind.factory)}", "",
                  _param_table(kind.params, kind.options, kind.option_docs), ""]
    return "\n".join(parts).strip()


# --------------------------------------------------------------------------------------
# Command-line options
# --------------------------------------------------------------------------------------

def subcommand_parser(command: str) -> argparse.ArgumentParser:
    from .cli import build_parser
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if command not in commands.choices:
        raise DocsError(f"no command 'sbp-brian {command}'; commands: "
                        f"{', '.join(commands.choices)}")
    return commands.choices[command]


def options_table(command: str) -> str:
    """The options of ``sbp-brian COMMAND``: name, meaning, default."""
    from .results import table
    rows = []
    for action in subcommand_parser(command)._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if action.option_strings:
            name = ", ".join(f"`{s}`" for s in action.option_strings)
            if action.nargs != 0:
                name += f" {action.metavar or action.dest.upper()}"
                name += " ..." if action.nargs in ("+", "*") else ""
        else:
            name = f"`{action.dest.upper()}`" + (" ..." if action.nargs in ("+", "*") else "")
        meaning = " ".join((action.help or "").replace("%(default)s", str(action.default))
                           .replace("%%", "%").split())
        if action.choices and not all(str(choice) in meaning for choice in action.choices):
            meaning += (" " if meaning else "") + "(one of " + ", ".join(
                map(str, action.choices)) + ")"
        default = action.default
        shown = "" if default in (None, False) or action.nargs == 0 else (
            " ".join(map(str, default)) if isinstance(default, list) else str(default))
        rows.append([name, meaning, shown])
    return table(["option", "meaning", "default"], rows)
