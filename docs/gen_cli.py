"""Regenerate the `--help` blocks of docs/cli.md from the `vigil` command itself.

    .venv/bin/python docs/gen_cli.py          # rewrite the blocks in docs/cli.md
    .venv/bin/python docs/gen_cli.py --check  # exit 1 if docs/cli.md is out of date

Each block sits between `<!-- cli-help:start vigil keys create -->` and
`<!-- cli-help:end -->`; the text outside the markers is written by hand and left alone.
tests/test_docs.py imports `render_blocks` and `expected_commands` to keep the page current.

The help is rendered in typer's plain (non-rich) layout, the one `TYPER_USE_RICH=0` gives,
with COLUMNS=100: click then wraps at min(COLUMNS, 80) - 2 = 78 characters, so the output
does not depend on the terminal the generator runs in.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click
import typer.main
from click.testing import CliRunner

CLI_MD = Path(__file__).with_name("cli.md")
START = "<!-- cli-help:start {} -->"
END = "<!-- cli-help:end -->"
BLOCK = re.compile(r"<!-- cli-help:start (?P<command>[^>]+?) -->\n(?P<body>.*?)<!-- cli-help:end -->", re.DOTALL)
ENV = {"COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1"}


def _command() -> click.Command:
    """A fresh click tree of `vigil`, every command set to plain (non-rich) help."""
    from vigil.cli import app

    root = typer.main.get_command(app)

    def plain(command: click.Command) -> None:
        command.rich_markup_mode = None  # type: ignore[attr-defined]
        for sub in getattr(command, "commands", {}).values():
            plain(sub)

    plain(root)
    return root


def expected_commands() -> list[str]:
    """Every command line that needs a help block: 'vigil', 'vigil serve', 'vigil keys create'…"""
    found: list[str] = []

    def walk(command: click.Command, path: list[str]) -> None:
        found.append(" ".join(path))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(_command(), ["vigil"])
    return found


def render_help(command_line: str) -> str:
    """The `--help` output of one command line, e.g. 'vigil keys create'."""
    args = command_line.split()[1:] + ["--help"]
    result = CliRunner().invoke(_command(), args, prog_name="vigil", color=False, env=ENV)
    if result.exit_code != 0:
        raise RuntimeError(f"'{command_line} --help' exited with {result.exit_code}: {result.output}")
    return "\n".join(line.rstrip() for line in result.output.rstrip("\n").split("\n")) + "\n"


def render_block(command_line: str) -> str:
    """The body written between the markers of one command."""
    return f"```text\n$ {command_line} --help\n{render_help(command_line)}```\n"


def render_blocks() -> dict[str, str]:
    return {command_line: render_block(command_line) for command_line in expected_commands()}


def regenerate(text: str) -> str:
    """`text` with every block rewritten; raises if a command has no block or a block no command."""
    blocks = render_blocks()
    present = [match["command"] for match in BLOCK.finditer(text)]
    missing = [c for c in blocks if c not in present]
    unknown = [c for c in present if c not in blocks]
    if missing or unknown:
        problems = [f"no block for '{c}': add {START.format(c)} / {END} where it belongs" for c in missing]
        problems += [f"a block names '{c}', which is not a vigil command: remove it" for c in unknown]
        raise SystemExit("docs/cli.md:\n  " + "\n  ".join(problems))
    return BLOCK.sub(lambda m: f"{START.format(m['command'])}\n{blocks[m['command']]}{END}", text)


def main(argv: list[str]) -> int:
    current = CLI_MD.read_text()
    fresh = regenerate(current)
    if "--check" in argv:
        if fresh != current:
            print("docs/cli.md is out of date: run .venv/bin/python docs/gen_cli.py", file=sys.stderr)
            return 1
        return 0
    if fresh != current:
        CLI_MD.write_text(fresh)
        print("docs/cli.md rewritten")
    else:
        print("docs/cli.md is current")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
