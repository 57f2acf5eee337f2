"""Every ``hongbao ...`` command shown in README.md and docs/*.md parses with the kit's own parser
(in the spirit of pyperf's test_examples): a renamed flag or command fails here, not in a reader's
terminal. A command in a code block must parse whole; one in an inline code span is a mention
(``hongbao compare``, ``hongbao bench --base-ref``): its command and every flag it names must
exist. Running the commands is the job of each command's own tests."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from hongbao.harness import cli

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
INLINE = re.compile(r"`(hongbao [^`]+)`")
ENV_ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")


def _code_lines(text: str) -> list[str]:
    """Shell lines of the page: fenced blocks (bash, sh, console or none) and 4-space indented ones,
    continuation backslashes joined."""
    lines = []
    for lang, body in FENCE.findall(text):
        if lang in ("", "bash", "sh", "shell", "console"):
            lines += body.splitlines()
    outside = FENCE.sub("", text)
    lines += [line[4:] for line in outside.splitlines() if line.startswith("    ") and not line.startswith("     ")]
    joined: list[str] = []
    for line in lines:
        if joined and joined[-1].endswith("\\"):
            joined[-1] = joined[-1][:-1] + " " + line.strip()
        else:
            joined.append(line.strip())
    return joined


def _commands(line: str) -> list[list[str]]:
    """The ``hongbao`` invocations of one shell line, as argv lists (``$ ``, ``cd x &&``, env
    assignments and comments dropped)."""
    try:
        words = shlex.split(line.removeprefix("$ "), comments=True)
    except ValueError:
        return []
    found, current = [], []
    for word in [*words, "&&"]:
        if word in ("&&", "||", ";", "|"):
            while current and ENV_ASSIGNMENT.match(current[0]):
                current.pop(0)
            if current and Path(current[0]).name == "hongbao":
                found.append(current[1:])
            current = []
        else:
            current.append(word)
    return found


def shown_commands() -> list[tuple[str, list[str]]]:
    """(page, argv) of every command in a code block."""
    shown = []
    for page in PAGES:
        where = page.relative_to(ROOT).as_posix()
        shown += [(where, argv) for line in _code_lines(page.read_text(encoding="utf-8")) for argv in _commands(line)]
    return shown


def mentioned_commands() -> list[tuple[str, list[str]]]:
    """(page, argv) of every ``hongbao COMMAND ...`` in an inline code span (``hongbao COMMAND`` and
    other upper-case placeholders are prose)."""
    shown = []
    for page in PAGES:
        for span in INLINE.findall(FENCE.sub("", page.read_text(encoding="utf-8"))):
            for argv in _commands(span):
                if argv and not argv[0].isupper():
                    shown.append((page.relative_to(ROOT).as_posix(), argv))
    return shown


def options_of(name: str) -> set[str]:
    parser, subparsers = cli.create_parser()
    cli._load(name).add_arguments(subparsers[name])
    return {flag for action in subparsers[name]._actions for flag in action.option_strings}


def parse(argv: list[str]) -> str:
    """Parse ``hongbao ARGV`` as the command would, without running it; '' when it parses, else
    argparse's message."""
    parser, subparsers = cli.create_parser()
    name = argv[0] if argv else None
    if name in cli.COMMANDS:
        cli._load(name).add_arguments(subparsers[name])
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            parser.parse_args(argv)
    except SystemExit as exc:
        return "" if exc.code == 0 else err.getvalue().strip() or f"exit {exc.code}"
    return ""


def _case_id(value: object) -> str:
    return " ".join(value) if isinstance(value, list) else str(value)


def test_the_pages_show_commands_of_every_family():
    names = {argv[0] for _, argv in shown_commands() if argv}
    assert {"bench", "compare", "report", "fairness", "serve", "storm", "capacity", "faults", "soak"} <= names


def test_a_wrong_flag_is_caught():
    assert "unrecognized arguments" in parse(["storm", "--scenario", "smoke", "--no-such-flag"])
    assert parse(["storm", "--scenario", "smoke"]) == ""


@pytest.mark.parametrize(("page", "argv"), shown_commands(), ids=_case_id)
def test_every_shown_command_parses(page, argv):
    assert argv and argv[0] in cli.COMMANDS, f"{page}: hongbao {' '.join(argv)}: no such command"
    problem = parse(argv)
    assert not problem, f"{page}: hongbao {' '.join(argv)}\n{problem}"


@pytest.mark.parametrize(
    ("page", "argv"), mentioned_commands(), ids=lambda v: " ".join(v) if isinstance(v, list) else v
)
def test_every_mentioned_command_and_flag_exists(page, argv):
    if argv[0].startswith("-"):  # hongbao --help
        assert parse(argv) == "", f"{page}: hongbao {' '.join(argv)}"
        return
    assert argv[0] in cli.COMMANDS, f"{page}: hongbao {' '.join(argv)}: no such command"
    unknown = {w.split("=", 1)[0] for w in argv[1:] if w.startswith("--")} - options_of(argv[0])
    assert not unknown, f"{page}: hongbao {' '.join(argv)}: no option {sorted(unknown)}"


def test_bootstrap_commands_shown_exist():
    bootstrap = (ROOT / "bootstrap.py").read_text(encoding="utf-8")
    for page in PAGES:
        for sub in re.findall(r"python3? bootstrap\.py (\w+)", page.read_text(encoding="utf-8")):
            assert f'"{sub}"' in bootstrap, f"{page.name}: python3 bootstrap.py {sub}"
