"""The README keeps its word: its Python blocks run as written, its command lines parse.

Every fenced ```python block of README.md, then of docs/guide.md (the detail moved there), runs, in order, in one namespace, in a temporary folder, against
the sandbox (``USAGEKIT_SANDBOX=1``: ``discover_accounts()`` returns its demo accounts), after the README's
own command lines that write the files those blocks read (``prices.csv``, ``usage.csv``) have run. Every
``usagekit …`` command line (indented blocks, the YAML job, inline synopses) names only options its
command's own argparse parser has, and each concrete one parses.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import warnings
from pathlib import Path

import pytest

from usagekit.cli import build_parser, main

README = Path(__file__).resolve().parent.parent / "README.md"
#: the README's detail, moved to the guide: its blocks keep their word too, run after the README's
GUIDE = README.parent / "docs" / "guide.md"
TEXT = README.read_text(encoding="utf-8") + "\n" + GUIDE.read_text(encoding="utf-8")
PYTHON_BLOCKS = re.findall(r"^```python\n(.*?)^```", TEXT, re.S | re.M)
#: the README's commands that write files its Python blocks read, as the README writes them
#: blocks that do not run as written yet, by their first line, and why (each must still fail: fix the README,
#: then take it off this list)
KNOWN_BROKEN: dict[str, str] = {}
FILE_COMMANDS = ("usagekit prices --example > prices.csv", "usagekit fetch --format csv --output usage.csv")


def _indented_commands() -> list[str]:
    """``usagekit …`` lines of indented (4-space) blocks and of the YAML job's ``run:`` steps."""
    lines = []
    for line in TEXT.splitlines():
        text = line.strip()
        if (line.startswith("    ") and not line.startswith("    -")) or text.startswith("- run:"):
            lines += [part.strip() for part in re.split(r"&&|;", text.removeprefix("- run:"))]
    return [re.sub(r"^.*?(?=usagekit )", "", c) for c in lines if re.search(r"(^|\s)usagekit \w", c)]


def _inline_commands() -> list[str]:
    """Inline code spans that show a command: `usagekit tasks [--profile NAME ...] …`."""
    return [span for span in re.findall(r"`(usagekit [a-z]+[^`]*)`", TEXT) if "--" in span]


def _argv(command: str) -> list[str]:
    """The arguments after ``usagekit`` (redirections and shell substitutions made concrete)."""
    command = re.sub(r"\s*>\s*\S+", "", command.split("#")[0]).replace("\\%", "%")
    words = shlex.split(command)
    words = ["2026-10" if "$(" in word else word for word in words]
    return words[words.index("usagekit") + 1 :]


def _subcommands() -> dict[str, set[str]]:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return {
        name: {option for action in sub._actions for option in action.option_strings}
        for name, sub in commands.choices.items()
    }


def test_the_readme_has_what_this_test_reads() -> None:
    assert len(PYTHON_BLOCKS) >= 6
    commands = _indented_commands()
    for command in FILE_COMMANDS:
        assert command in commands, f"the README no longer shows {command!r}"
    assert any(c.startswith("usagekit demo") for c in commands) and _inline_commands()


@pytest.mark.parametrize("command", sorted(set(_indented_commands())))
def test_each_command_line_block_parses_with_its_commands_own_parser(command: str) -> None:
    argv = _argv(command)
    options = _subcommands()
    assert argv and argv[0] in options, f"{command!r}: no command {argv[:1]}"
    unknown = [
        w.split("=")[0] for w in argv if w.startswith("--") and w.split("=")[0] not in options[argv[0]]
    ]
    assert not unknown, f"{command!r}: {argv[0]} has no options {unknown}"
    with contextlib.redirect_stderr(io.StringIO()) as err:
        try:
            build_parser().parse_args(argv)
        except SystemExit as stop:
            pytest.fail(f"{command!r} does not parse (exit {stop.code}): {err.getvalue()}")


@pytest.mark.parametrize("command", sorted(set(_inline_commands())))
def test_each_inline_synopsis_names_only_options_its_command_has(command: str) -> None:
    name = command.split()[1]
    options = _subcommands()
    assert name in options, command
    shown = re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", command)
    unknown = [option for option in shown if option not in options[name]]
    assert not unknown, f"{command!r}: {name} has no options {unknown}"


def test_every_python_block_of_the_readme_runs_against_the_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    import matplotlib

    from usagekit import discovery

    # the blocks' discover_accounts() starts this process's sandbox: stopped after, so no later test finds it
    request.addfinalizer(discovery._stop_sandbox)
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    for name in ("USAGEKIT_SANDBOX_ENDPOINT", "ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no profile of this machine's
    monkeypatch.setenv("USAGEKIT_SANDBOX", "1")
    monkeypatch.setenv("USAGEKIT_SANDBOX_SEED", "0")
    monkeypatch.setenv("USAGEKIT_SANDBOX_NOW", "2026-11-20T08:00:00Z")
    monkeypatch.setenv("USAGEKIT_SANDBOX_TASKS", "6")  # a small world: the blocks' sense, not its size
    monkeypatch.setenv("USAGEKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    for command in FILE_COMMANDS:
        target = command.split()[-1]
        with contextlib.ExitStack() as stack:
            if ">" in command:  # the shell's redirection
                stack.enter_context(contextlib.redirect_stdout(stack.enter_context(open(target, "w"))))
            assert main(_argv(command)) == 0, command
        assert Path(target).stat().st_size > 0, command
    namespace: dict[str, object] = {"__name__": "__readme__"}
    failed: dict[str, str] = {}
    for number, block in enumerate(PYTHON_BLOCKS, 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # what a block warns about is its own business; errors are not
            try:
                exec(compile(block, f"README.md or docs/guide.md python block {number}", "exec"), namespace)  # noqa: S102
            except Exception as error:
                failed[block.splitlines()[0]] = f"block {number}: {type(error).__name__}: {error}"
    known = {line: failed.get(line, "RUNS NOW: take it off KNOWN_BROKEN") for line in KNOWN_BROKEN}
    assert {line: text for line, text in failed.items() if line not in KNOWN_BROKEN} == {}
    assert all(line in failed for line in KNOWN_BROKEN), known
