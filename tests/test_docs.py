"""The documentation: generated tables equal their data, documented commands run, Sphinx builds.

``sbp-brian docs --check`` is the check; the tests below run it on the repository and show
that it fails on copies of the pages where a number in an artifact changed, an option in a
README line is misspelt, or an artifact has no registry entry.
"""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sbp_brian.cli import main
from sbp_brian.docs import (DocsError, command_problem, documented_commands, model_file_reference,
                            options_table, regenerate)
from sbp_brian.results import ResultsError, load_registry

ROOT = Path(__file__).resolve().parent.parent


def copy_of_the_pages(tmp_path: Path) -> Path:
    """The pages, the registry and every artifact and figure they name, in ``tmp_path``."""
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "docs", root / "docs", ignore=shutil.ignore_patterns("_build"))
    shutil.copy(ROOT / "README.md", root / "README.md")
    for folder in ("figures/training", "bench"):
        shutil.copytree(ROOT / folder, root / folder)
    return root


def test_readme_and_docs_match_their_data():
    """Every generated table of README.md and docs/ equals what its artifact, the model-file
    schema or the command's parser gives; every registry entry is shown once; every artifact
    has an entry; every documented command parses."""
    assert regenerate(ROOT, check=True) == []


def test_a_changed_number_in_an_artifact_fails_the_check(tmp_path, capsys):
    root = copy_of_the_pages(tmp_path)
    artifact = root / "figures/training/comparison_digits.json"
    data = json.loads(artifact.read_text())
    data["SBP weighted (ours)"]["accuracies"][0] = 0.5  # 93.6 % -> 50.0 %
    artifact.write_text(json.dumps(data))
    assert main(["docs", "--check", "--root", str(root)]) == 1
    assert "docs/results.md: generated parts differ" in capsys.readouterr().err
    assert "50.0 / 93.3 / 93.9" not in (root / "docs/results.md").read_text()
    assert regenerate(root) == []  # rewriting the pages from the artifacts mends them
    assert "50.0 / 93.3 / 93.9" in (root / "docs/results.md").read_text()
    assert regenerate(root, check=True) == []


@pytest.mark.parametrize("line, misspelt", [
    ("sbp-brian train --out runs/digits", "sbp-brian train --ouut runs/digits"),  # command 1
    ("sbp-brian plot runs/digits --out acc.png", "sbp-brian plot runs/digits --ouut acc.png")])
def test_a_misspelt_option_in_a_readme_line_fails_the_check(tmp_path, capsys, line, misspelt):
    root = copy_of_the_pages(tmp_path)
    readme = root / "README.md"
    text = readme.read_text()
    assert line in text
    readme.write_text(text.replace(line, misspelt, 1))
    assert main(["docs", "--check", "--root", str(root)]) == 1
    err = capsys.readouterr().err
    assert "README.md: `sbp-brian " in err and "unrecognized arguments: --ouut" in err


def test_documented_commands_are_collected_from_fenced_blocks_only():
    text = ("Run `sbp-brian train --bogus` inline.\n\n```bash\nsbp-brian train --epochs 2"
            "   # a comment with `sbp-brian x`\nls\npip install . && sbp-brian evaluate "
            "'runs/a b'; sbp-brian doctor | tee x\n```\n")
    assert documented_commands(text) == [["sbp-brian", "train", "--epochs", "2"],
                                         ["sbp-brian", "evaluate", "runs/a b"],
                                         ["sbp-brian", "doctor"]]
    assert all(command_problem(c) is None for c in documented_commands(text))
    assert "invalid int value" in command_problem(["sbp-brian", "train", "--epochs", "two"])
    assert "no model file 'sbp_nothing'" in command_problem(["sbp-brian", "compare",
                                                             "sbp_nothing"])
    assert command_problem(["sbp-brian", "train", "MODEL", "--data-dir", "DIR"]) is None


def test_an_artifact_without_a_registry_entry_fails_the_check(tmp_path):
    root = copy_of_the_pages(tmp_path)
    (root / "bench" / "results_unregistered.json").write_text("{}")
    problems = regenerate(root, check=True)
    assert problems == ["bench/results_unregistered.json is a measured result but no entry of "
                        "docs/results.toml names it"]


def test_a_result_shown_twice_or_not_at_all_fails_the_check(tmp_path):
    root = copy_of_the_pages(tmp_path)
    page = root / "docs" / "results.md"
    text = page.read_text()
    start = text.index("<!-- generated: result digits_probe -->")
    end = text.index("<!-- end generated: result digits_probe -->")
    page.write_text(text[:start] + text[end + len("<!-- end generated: result digits_probe -->"):])
    assert any("'digits_probe' must be shown once, on docs/results.md; it is on no page" in p
               for p in regenerate(root, check=True))


def test_registry_entries_name_their_provenance():
    for entry in load_registry(ROOT).values():
        assert entry.command and entry.date[:4] == "2026" and (ROOT / entry.artifact).is_file()


def test_bad_registry_and_unknown_parts_are_named(tmp_path):
    root = copy_of_the_pages(tmp_path)
    registry = root / "docs" / "results.toml"
    text = registry.read_text()
    registry.write_text(text.replace('kind = "probe"', 'kind = "probes"'))
    with pytest.raises(ResultsError, match=r"\[digits_probe\] unknown kind 'probes'"):
        regenerate(root, check=True)
    registry.write_text(text.replace("[speed_benchmark]", "[speed_benchmarks]"))
    with pytest.raises(ResultsError, match="results table needs the results speed_benchmark"):
        regenerate(root, check=True)
    registry.write_text(text)
    (root / "docs" / "extra.md").write_text("<!-- generated: nonsense -->\n"
                                            "<!-- end generated: nonsense -->\n")
    with pytest.raises(DocsError, match="unknown generated part 'nonsense'"):
        regenerate(root, check=True)
    with pytest.raises(DocsError, match="not the repository root"):
        regenerate(tmp_path / "nowhere")


def test_model_file_reference_lists_every_key_with_its_unit():
    reference = model_file_reference()
    assert "| `sample_duration` | ms | > 0 ms | 50. ms | presentation time of one sample |" \
        in reference
    assert "| `p` | 1 | [0.1, 1] | 0.3 |" in reference
    for key in ("tau_m", "V_in", "tau_homeo", "A_plus", "eq15_sign", "normalise_input",
                "batch_size", "lr_decay"):
        assert f"`{key}`" in reference


def test_options_table_comes_from_the_parser():
    table = options_table("train")
    assert "| `--batch-size` B |" in table and "| `--resume` |" in table
    with pytest.raises(DocsError, match="no command 'sbp-brian fly'"):
        options_table("fly")


def test_sphinx_builds_the_docs_without_warnings(tmp_path):
    """``python -m sphinx -W -b html docs docs/_build`` (about 15 s here)."""
    pytest.importorskip("sphinx", reason="Sphinx is not installed (pip install -e '.[docs]')")
    pytest.importorskip("myst_parser", reason="MyST is not installed (pip install -e '.[docs]')")
    out = subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html",
                          str(ROOT / "docs"), str(tmp_path / "html")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    api = (tmp_path / "html" / "api.html").read_text()
    assert "sbp_input_change" in api  # autodoc found the docstrings
    results = (tmp_path / "html" / "results.html").read_text()
    assert "comparison_digits.json" in results and "<img" in results


def test_every_package_of_the_source_tree_is_installed():
    """A non-editable install (the README's first command) gets only the packages setup.cfg
    lists: every folder of sbp_brian/ with an __init__.py must be one of them."""
    import configparser
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    listed = set(config["options"]["packages"].split())
    found = {".".join(path.parent.relative_to(ROOT).parts)
             for path in (ROOT / "sbp_brian").rglob("__init__.py")}
    assert found <= listed, f"not in setup.cfg [options] packages: {sorted(found - listed)}"
