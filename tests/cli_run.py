"""`passage …` run in the test's own process: the same exit code, stdout and stderr as the console script,
without starting a new interpreter (about a second each). Tests of the real process — its exit status and
stderr as a shell sees them — keep `subprocess` and say so in their names."""

from __future__ import annotations

import subprocess

from click.testing import CliRunner

from passage.cli import main


def passage_cli(*args, input: str | None = None) -> subprocess.CompletedProcess:
    """Runs `passage ARGS`; an exception the command does not turn into an exit code is raised, not hidden."""
    argv = [str(a) for a in args]
    result = CliRunner().invoke(main, argv, input=input, catch_exceptions=False)
    return subprocess.CompletedProcess(["passage", *argv], result.exit_code, result.stdout, result.stderr)
