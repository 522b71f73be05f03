"""The manual runnable as written. Every `.venv/bin/webhooks ...` command in README.md and docs/*.md
names a real command and real options of the CLI (read from the typer app, not run); every curl
example a method and path of the API's OpenAPI document, at the address and with the key the local
stack prints; no command is written bare (`webhooks ...`, `python ...`). And the site builds with
--strict (a broken link or anchor fails), fetching nothing from elsewhere."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer

from api.app import create_app
from cli.main import app as cli_app
from core.config import Settings
from devstack.receiver import Receiver
from devstack.stack import API_PORT, DEV_KEY, RECEIVER_PORT, welcome
from store.queries import Store

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
API_BASE = f"http://127.0.0.1:{API_PORT}"
CLI = ".venv/bin/webhooks"
SHELL_BLOCKS = {"sh", "shell", "bash", "console"}
SEPARATORS = ";&|()<>\n"
# Programs the venv provides: written .venv/bin/NAME, so a reader without the venv activated can paste them.
VENV_PROGRAMS = ("webhooks", "python", "python3", "pytest", "temporal", "mkdocs")
# A code span: a run of backticks, the text (not across a blank line), the same run again.
CODE_SPAN = re.compile(r"(`+)((?:(?!\n\s*\n).)+?)(?<!`)\1(?!`)", re.DOTALL)
BARE = re.compile(rf"^(?:\$ )?({'|'.join(VENV_PROGRAMS)}) \S")


@dataclass(frozen=True)
class Snippet:
    """Shell text of a page: a fenced block's whole text, or one inline code span."""

    where: str
    text: str
    inline: bool


def snippets(markdown: str, name: str) -> Iterator[Snippet]:
    """The shell blocks of a page, then its inline code spans (outside any fenced block)."""
    prose: list[str] = []  # the page with its fenced blocks blanked out, each line where it was
    fence: list[str] | None = None
    language, start = "", 0
    for number, line in enumerate(markdown.splitlines(), start=1):
        prose.append("" if fence is not None or line.startswith("```") else line)
        if line.startswith("```"):
            if fence is None:
                fence, language, start = [], line[3:].strip(), number
            else:
                if language in SHELL_BLOCKS:
                    text = console_commands(fence) if language == "console" else "\n".join(fence)
                    yield Snippet(f"{name}:{start}", text, False)
                fence = None
        elif fence is not None:
            fence.append(line)
    text = "\n".join(prose)
    for span in CODE_SPAN.finditer(text):
        # A span may run over a line end (read as a space). In a table `\|` is a literal bar; in a
        # synopsis it separates alternatives, not commands of a pipe.
        words = " ".join(span[2].split()).replace("\\|", " ")
        yield Snippet(f"{name}:{text.count(chr(10), 0, span.start()) + 1}", words, True)


def console_commands(lines: list[str]) -> str:
    """The commands of a console block (its `$ ` lines), without what they print."""
    return "\n".join(line[2:] for line in lines if line.startswith("$ "))


def without_comments(script: str) -> str:
    """The script without its `#` comments, keeping the line ends that separate its commands."""
    kept, quote, comment = [], "", False
    for index, char in enumerate(script):
        if comment:
            comment = char != "\n"
            if comment:
                continue
        elif quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or script[index - 1] in " \t\n"):
            comment = True
            continue
        kept.append(char)
    return "".join(kept)


def simple_commands(script: str) -> list[list[str]]:
    """The words of each simple command of a shell script: split at pipes, lists and line ends."""
    lexer = shlex.shlex(without_comments(script.replace("\\\n", " ")), posix=True, punctuation_chars=SEPARATORS)
    lexer.whitespace = " \t\r"
    lexer.commenters = ""
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for word in lexer:
        if set(word) <= set(SEPARATORS):
            commands.append([])
        else:
            commands[-1].append(word)
    return [words for words in commands if words]


def invocations(snippet: Snippet, program: str) -> Iterator[list[str]]:
    """The arguments of each call of `program` in the snippet (after any VAR=value words)."""
    for words in simple_commands(snippet.text):
        starts = [index for index, word in enumerate(words) if word == program]
        ends = [*starts[1:], len(words)] if starts else []
        for begin, end in zip(starts, ends, strict=True):
            yield words[begin + 1 : end]


# --- the command line -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CliCommand:
    options: frozenset[str]
    subcommands: frozenset[str]


def cli_commands() -> dict[str, CliCommand]:
    """Every command and group of the CLI by its path ("" the root, "hook create"), with its options."""
    root = typer.main.get_command(cli_app)
    context = root.make_context("webhooks", [], resilient_parsing=True)
    found: dict[str, CliCommand] = {}
    pending = [("", root)]
    while pending:
        path, command = pending.pop()
        help_option = command.get_help_option(context)
        options = {name for param in command.params if param.param_type_name == "option" for name in param.opts}
        options |= {name for param in command.params for name in param.secondary_opts}
        options |= set(help_option.opts if help_option else ())
        names: list[str] = []
        if isinstance(command, typer.core.TyperGroup):
            names = command.list_commands(context)
            for name in names:
                sub = command.get_command(context, name)
                assert sub is not None
                pending.append((f"{path} {name}".strip(), sub))
        found[path] = CliCommand(frozenset(options), frozenset(names))
    return found


def synopsis_word(word: str) -> str:
    """A word of a command or of a synopsis without its brackets and ellipsis: `[--filter` is `--filter`."""
    return word.strip("[]()").removesuffix("...").strip("[]()")


def cli_problems(arguments: list[str], commands: dict[str, CliCommand]) -> list[str]:
    """What in `webhooks ARGUMENTS` the CLI does not have: an unknown command, an unknown option."""
    if not arguments:  # the program itself, named in a sentence
        return []
    path, problems = "", []
    for word in filter(None, map(synopsis_word, arguments)):
        command = commands[path]
        if word.startswith("-") and word != "-":
            names = word.split("=", 1)[0].split("/")
            problems += [
                f"`{path or 'webhooks'}` has no option {name}" for name in names if name not in command.options
            ]
        elif command.subcommands:
            if word not in command.subcommands:
                return [*problems, f"`{path or 'webhooks'}` has no command {word!r}"]
            path = f"{path} {word}".strip()
    if commands[path].subcommands and "--help" not in arguments:
        problems.append(f"`{path or 'webhooks'}` names no command")
    return problems


# --- the HTTP API -----------------------------------------------------------------------------------


def curl_request(arguments: list[str]) -> tuple[str, str, str | None]:
    """A curl call's method, URL and bearer key."""
    method = "GET"
    urls, key = [], None
    for index, word in enumerate(arguments):
        following = arguments[index + 1] if index + 1 < len(arguments) else ""
        if word in ("-X", "--request"):
            method = following
        elif word in ("-d", "--data", "--data-binary", "--data-raw", "--json") and method == "GET":
            method = "POST"
        elif word in ("-H", "--header") and following.lower().startswith("authorization: bearer "):
            key = following.split(None, 2)[2]
        elif re.match(r"https?://", word):
            urls.append(word)
    assert len(urls) == 1, f"one URL expected in curl {' '.join(arguments)}"
    return method, urls[0], key


def route_problems(method: str, url: str, key: str | None, openapi: dict[str, Any]) -> list[str]:
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}" != API_BASE:
        return [f"{url} is not the local stack's API ({API_BASE})"]
    for template, operations in openapi["paths"].items():
        if re.fullmatch(re.sub(r"\{[^/]+\}", "[^/]+", template), parts.path):
            problems = [] if method.lower() in operations else [f"{method} {template} is not in the API"]
            if key != DEV_KEY and parts.path != "/health":
                problems.append(f"{method} {parts.path} without the local stack's key ({DEV_KEY})")
            return problems
    return [f"no route of the API matches {parts.path}"]


def expand(words: list[str], variables: dict[str, str]) -> list[str]:
    return [re.sub(r"\$\{?(\w+)\}?", lambda found: variables.get(found[1], found[0]), word) for word in words]


# --- the checks, for a page's text ------------------------------------------------------------------


def page_problems(markdown: str, name: str, commands: dict[str, CliCommand], openapi: dict[str, Any]) -> list[str]:
    problems, checked = [], 0
    for snippet in snippets(markdown, name):
        if snippet.inline and (bare := BARE.match(snippet.text)):
            problems.append(f"{snippet.where}: `{snippet.text}`: write the venv's .venv/bin/{bare[1]}")
        if CLI not in snippet.text and "curl" not in snippet.text and snippet.inline:
            continue
        try:
            words = simple_commands(snippet.text)
        except ValueError as error:  # an unclosed quote
            problems.append(f"{snippet.where}: {error}")
            continue
        if not snippet.inline:
            problems += [
                f"{snippet.where}: `{' '.join(command)}`: write the venv's .venv/bin/{first}"
                for command in words
                if (first := next((word for word in command if "=" not in word), "")) in VENV_PROGRAMS
            ]
        for arguments in invocations(snippet, CLI):
            checked += 1
            problems += [f"{snippet.where}: {problem}" for problem in cli_problems(arguments, commands)]
        variables = {
            variable: value
            for command in words
            if len(command) == 1 and re.fullmatch(r"\w+=.*", command[0])
            for variable, value in [command[0].split("=", 1)]
        }
        for arguments in invocations(snippet, "curl"):
            method, url, key = curl_request(expand(arguments, variables))
            problems += [f"{snippet.where}: {problem}" for problem in route_problems(method, url, key, openapi)]
    if (unchecked := markdown.count(CLI) - checked) > 0:
        problems.append(f"{name}: {unchecked} {CLI} command(s) outside a shell block or code span, so not checked")
    return problems


@pytest.fixture(scope="module")
def commands() -> dict[str, CliCommand]:
    return cli_commands()


@pytest.fixture
def openapi(settings: Settings, store: Store) -> dict[str, Any]:
    return create_app(settings, store).openapi()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_command_and_curl_example_exists(commands: dict[str, CliCommand], openapi: dict[str, Any]) -> None:
    problems = [
        problem
        for page in PAGES
        for problem in page_problems(page.read_text(), str(page.relative_to(ROOT)), commands, openapi)
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_checks_catch_what_does_not_exist(commands: dict[str, CliCommand], openapi: dict[str, Any]) -> None:
    page = f"""
Run `{CLI} hook list -w ws_acme --enabled` and `{CLI} hook create ...
[--no-such-flag]`, a span over a line end:

```sh
export WEBHOOKS_ALLOW_PRIVATE_URLS=true   # it's a comment
{CLI} hook create -w ws_acme --name N --event tag.applied --url http://127.0.0.1:8099/x --colour red
{CLI} example tag.applied | {CLI} send - --wait
{CLI} hooks list
webhooks hook list -w ws_acme
KEY={DEV_KEY}
curl -s -X PATCH {API_BASE}/workspaces/ws_acme/webhooks -H "Authorization: Bearer $KEY"
curl -s {API_BASE}/workspaces/ws_acme/nothing-here -H "Authorization: Bearer $KEY"
curl -s {API_BASE}/workspaces/ws_acme/webhooks -H "Authorization: Bearer wk_other"
curl -s http://localhost:8000/events -d @- -H "Authorization: Bearer $KEY"
```

```
{CLI} hook show wh_1 --no-such-flag-unseen
```

```console
$ {CLI} hook show wh_1 --secret
  secret   whsec_... (it's shown once)
$ {CLI} timers list --soon
```
"""
    assert page_problems(page, "page.md", commands, openapi) == [
        "page.md:5: `webhooks hook list -w ws_acme`: write the venv's .venv/bin/webhooks",
        "page.md:5: `hook create` has no option --colour",
        "page.md:5: `webhooks` has no command 'hooks'",
        "page.md:5: PATCH /workspaces/{workspace_id}/webhooks is not in the API",
        "page.md:5: no route of the API matches /workspaces/ws_acme/nothing-here",
        f"page.md:5: GET /workspaces/ws_acme/webhooks without the local stack's key ({DEV_KEY})",
        f"page.md:5: http://localhost:8000/events is not the local stack's API ({API_BASE})",
        "page.md:22: `timers list` has no option --soon",
        "page.md:2: `hook create` has no option --no-such-flag",
        "page.md: 1 .venv/bin/webhooks command(s) outside a shell block or code span, so not checked",
    ]


def test_the_docs_give_the_addresses_the_local_stack_prints() -> None:
    printed = welcome(Settings(), Receiver(port=RECEIVER_PORT))
    addresses = {address.rstrip(".,:;)") for address in re.findall(r"https?://[^\s]+", printed)}
    assert addresses, printed
    getting_started = (ROOT / "docs" / "getting-started.md").read_text()
    readme = (ROOT / "README.md").read_text()
    assert [address for address in addresses if address not in getting_started] == []
    assert [address for address in addresses if address not in readme and "/svc/" not in address] == []


def test_the_readme_links_to_pages_that_are_there() -> None:
    # The site's build checks the links between pages; the README, read on GitHub, is outside it.
    targets = re.findall(r"\]\(([^)#\s]+)[^)]*\)", (ROOT / "README.md").read_text())
    local = [target for target in targets if not re.match(r"https?://", target)]
    assert local, "the README links to no page"
    assert [target for target in local if not (ROOT / target).is_file()] == []


def build_site(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )


def test_the_site_builds_strict_and_fetches_nothing_from_elsewhere(tmp_path: Path) -> None:
    built = build_site(ROOT / "mkdocs.yml", tmp_path / "site")
    assert built.returncode == 0, built.stdout + built.stderr
    fetched = [
        f"{page.relative_to(tmp_path)}: {tag}"
        for page in (tmp_path / "site").rglob("*.html")
        for tag in re.findall(
            r"<(?:script|img|iframe|link)\b[^>]*\b(?:src|href)=\"(?:https?:)?//[^\"]*\"[^>]*>", page.read_text()
        )
    ]
    assert fetched == []


def test_a_broken_anchor_fails_the_build(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path)
    shutil.copytree(ROOT / "bench" / "results", tmp_path / "bench" / "results")
    with (tmp_path / "docs" / "production.md").open("a") as page:
        page.write("\nSee [the pacing](pacing.md#no-such-section).\n")
    built = build_site(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert built.returncode != 0
    assert "does not contain an anchor '#no-such-section'" in built.stdout + built.stderr
