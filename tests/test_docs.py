"""The docs say what the code does: README commands, CI, CLI help, finding codes."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from passage.findings import all_codes

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _readme_commands() -> list[str]:
    section = README.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_readme_gives_exactly_two_commands_and_ci_runs_the_test_one():
    commands = _readme_commands()
    assert len(commands) == 2
    assert commands[0].endswith("passage serve")
    assert commands[1].endswith("pytest")
    assert commands[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_every_finding_code_is_documented():
    """Passage's own codes and its built-in packs'; a pack installed from elsewhere documents its own."""
    from passage.plugins import manager, pack_dirs

    src = ROOT / "src" / "passage"
    elsewhere = {code for name, plugin in manager().list_name_plugin() if not pack_dirs()[name].is_relative_to(src)
                 for code in (getattr(plugin, "finding_codes", dict)() or {})}
    assert elsewhere, "the test environment holds a pack from elsewhere (tests/plugins/flowcount)"
    doc = (ROOT / "docs" / "validation.md").read_text(encoding="utf-8")
    missing = [c for c in all_codes() if c not in elsewhere and f"`{c}`" not in doc]
    assert missing == []


def _generated_doc_is_current(tool: str) -> None:
    """The tool renders in a process of its own, loading Passage's own packs only (PASSAGE_LOAD_PACKS): the
    reference must not depend on what else the environment holds (tests/plugins/flowcount)."""
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "PASSAGE_LOAD_PACKS"}
    run = subprocess.run([sys.executable, str(ROOT / "tools" / tool), "--check"], capture_output=True, text=True, check=False,
                         env=env, timeout=300)
    assert run.returncode == 0, f"stale: run `python tools/{tool}`\n{run.stdout}{run.stderr}"


def test_cli_reference_matches_help():
    _generated_doc_is_current("cli_docs.py")


def test_pack_yaml_reference_matches_the_model():
    _generated_doc_is_current("pack_yaml_docs.py")


def test_docs_links_resolve():
    for doc in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        for target in re.findall(r"\]\(([^)#]+\.md)\)", doc.read_text(encoding="utf-8")):
            assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"


def test_every_security_promise_names_tests_that_exist():
    """docs/security.md names, for each promise, the test that checks it: each must be a real test."""
    doc = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(tests/test_\w+\.py)::(test_\w+)`", doc))
    assert len(named) >= 20
    missing = []
    for path, test in sorted(named):
        source = (ROOT / path).read_text(encoding="utf-8") if (ROOT / path).exists() else ""
        if not re.search(rf"^(?:async )?def {test}\(", source, flags=re.MULTILINE):
            missing.append(f"{path}::{test}")
    assert missing == [], "docs/security.md names tests that do not exist"
