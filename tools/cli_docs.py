"""Write docs/cli.md from the commands' own --help (tests/test_docs.py fails when it is stale)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from passage.plugins import LOAD_PACKS, builtin_pack_names

# The reference documents Passage and its own packs, whatever else is installed beside them.
os.environ.setdefault(LOAD_PACKS, ",".join(builtin_pack_names()))

from passage.cli import main

OUT = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def _walk(cmd: click.Command, path: list[str]):
    yield path, cmd
    if isinstance(cmd, click.Group):
        for name in sorted(cmd.commands):
            yield from _walk(cmd.commands[name], path + [name])


def render() -> str:
    parts = ["# Command line", "",
             "Generated from `passage --help` by `tools/cli_docs.py`; every command also answers `--help`.", "",
             "Exit codes: 0 success, 1 rejected input (the report goes to stderr) or a store problem, 2 usage errors.", ""]
    for path, cmd in _walk(main, ["passage"]):
        with click.Context(cmd, info_name=" ".join(path), terminal_width=100, max_content_width=100,
                           help_option_names=["-h", "--help"]) as ctx:
            parts += [f"## `{' '.join(path)}`", "", "```", cmd.get_help(ctx).rstrip(), "```", ""]
    return "\n".join(parts)


if __name__ == "__main__":
    text = render()
    if "--check" in sys.argv:
        sys.exit(0 if OUT.read_text(encoding="utf-8") == text else 1)
    OUT.write_text(text, encoding="utf-8")
    print(OUT)
