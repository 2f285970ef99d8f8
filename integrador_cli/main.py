"""`integrador <verb>`: every command of a developer's day (docs/day2.md#command-line).

Each verb runs what its make target ran: the same playbook, through the same runner
(scripts/converge, or --converge / INTEGRADOR_CONVERGE: tests point it at a stub), with the
same `-e` values in the same order, then `-v...` and whatever follows `--`, unchanged. Values
are checked by Click before anything runs (exit status 2, naming the option).

The Makefile's targets are aliases: `integrador --make <verb>` takes make's variables raw (the
hidden --make-* options and --backup; the Makefile hands them over through the environment)
and checks them as make did, with make's own messages (naming the variable, `INSTANCE=B is not
a stack name ...`). Under `make -n` (MAKEFLAGS holds n, t or q) it prints what it would run.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import click
from click.shell_completion import CompletionItem, get_completion_class

REPO = Path(__file__).resolve().parents[1]
PROG = "integrador"
COMPLETE_VAR = "_INTEGRADOR_COMPLETE"
# What $(strip) takes off a make value (the C locale's isspace).
MAKE_BLANKS = " \t\n\r\v\f"
# A stack name as the Makefile took it: lowercase letters, digits and dashes, not opening with a dash.
INSTANCE_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
YES_WORDS = ("1", "true", "yes")
NO_WORDS = ("", "0", "false", "no")
# Python warnings of a library we pin (ansible-core importing DSA from cryptography 51), as the Makefile.
PYTHON_WARNING = "ignore:::ansible._internal._ssh._ssh_agent"
PASSED = "integrador.passed"
ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class Stop(click.ClickException):
    """A refusal or a failure, its message printed as it is (no `Error:` prefix)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file: Any = None) -> None:
        click.echo(self.format_message(), err=True)


def from_make(ctx: click.Context | None) -> bool:
    return bool(ctx and ctx.find_root().params.get("from_make"))


def make_word(value: str) -> str:
    """A make variable's word as the Makefile compared it: stripped, ASCII lowercased."""
    return value.strip(MAKE_BLANKS).translate(ASCII_LOWER)


def make_dry_run() -> bool:
    """make -n, -t or -q: the single-letter flags are MAKEFLAGS' first word (none when it opens with --)."""
    words = os.environ.get("MAKEFLAGS", "").split()
    letters = words[0] if words and not words[0].startswith("--") else ""
    return bool(set(letters.lstrip("-")) & set("ntq"))


# --- Values, checked before anything runs ---------------------------------------------------


class CheckedName(click.ParamType):
    """A word given as an option or as a make variable (INSTANCE=, NAME=), checked before any
    playbook runs: blanks around are dropped, as make's $(strip) dropped them; from make, a bad
    word stops the run naming the variable, else click names the option."""

    name = "name"
    pattern: re.Pattern[str]
    make_variable = ""  # INSTANCE
    what = ""  # "a stack name"
    rule = ""  # what a good word is
    make_hint = ""  # after the rule, from make
    option_hint = ""  # after the rule, from the command line

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        raw = str(value)
        word = raw.strip(MAKE_BLANKS)
        if word == "" or self.pattern.fullmatch(word):
            return word
        if from_make(ctx):
            raise Stop(
                f"{self.make_variable}={raw} is not {self.what}: {self.rule}{self.make_hint}."
                " Nothing was run.",
                2,
            )
        self.fail(f"{raw!r} is not {self.what}: {self.rule}{self.option_hint}.", param, ctx)


class InstanceType(CheckedName):
    pattern = INSTANCE_NAME
    make_variable = "INSTANCE"
    what = "a stack name"
    rule = "use lowercase letters, digits and dashes, not starting with a dash"
    make_hint = " (INSTANCE=b), or no INSTANCE for the default stack"
    option_hint = " (--instance b), or no --instance for the default stack"

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        return [CompletionItem(name) for name in known_instances() if name.startswith(incomplete)]


class Service(click.Choice):
    """One of the choices (any case); from make, the SERVICE word, empty for all."""

    def __init__(self, choices: Sequence[str], every: str) -> None:
        super().__init__(choices, case_sensitive=False)
        self.every = every

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not from_make(ctx):
            return super().convert(value, param, ctx)
        word = make_word(str(value))
        if word == "" or word in self.choices:
            return word or None
        raise Stop(
            f"SERVICE={value} is not understood: SERVICE takes {'|'.join(map(str, self.choices))}"
            f" (or no SERVICE for {self.every}). Nothing was run.",
            2,
        )


class MakeWord(click.ParamType):
    """A make variable's raw word (the hidden --make-* options), understood as the Makefile did:
    `words` maps each understood word to a value; anything else stops, naming the variable."""

    name = "word"

    def __init__(self, variable: str, words: dict[str, Any], takes: str) -> None:
        self.variable = variable
        self.words = words
        self.takes = takes

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        word = make_word(str(value))
        if word in self.words:
            return self.words[word]
        raise Stop(f"{self.variable}={value} is not understood: {self.takes}. Nothing was run.", 2)


def make_bool(variable: str, takes: str) -> MakeWord:
    """1, true, yes (any case, blanks around) are yes; empty, 0, false, no are no."""
    return MakeWord(variable, {**dict.fromkeys(YES_WORDS, True), **dict.fromkeys(NO_WORDS, False)}, takes)


def bool_takes(variable: str, what: str) -> str:
    return (
        f"{variable}=1 (or true, yes) {what}; {variable}=0 (or false, no, or no {variable} at all) does not"
    )


# --- Completion -----------------------------------------------------------------------------


def known_instances() -> list[str]:
    """The stacks this machine has run: the folders ~/.local/state/integrador-<name>."""
    state = Path.home() / ".local" / "state"
    try:
        folders = [p.name for p in state.iterdir() if p.name.startswith("integrador-") and p.is_dir()]
    except OSError:
        return []
    names = (folder[len("integrador-") :] for folder in folders)
    return sorted(name for name in names if INSTANCE_NAME.fullmatch(name))


def backup_folders(instance: str) -> list[str]:
    """The finished backups (folders holding SHA256SUMS) of the instance's backup directory, newest first."""
    base = Path.home() / (f"integrador-{instance}-backups" if instance else "integrador-backups")
    try:
        return sorted((p.name for p in base.iterdir() if (p / "SHA256SUMS").is_file()), reverse=True)
    except OSError:
        return []


def complete_backup(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    names = ["latest", *backup_folders(ctx.params.get("instance") or "")]
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]


# --- Running --------------------------------------------------------------------------------


def tool_env() -> dict[str, str]:
    """The environment make gave its recipes: the tooling virtualenv first on PATH, its
    VIRTUAL_ENV, and the pinned library's warning silenced."""
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    path = env.get("PATH", "")
    if bin_dir not in path.split(os.pathsep):
        env["PATH"] = bin_dir + (os.pathsep + path if path else "")
    env["VIRTUAL_ENV"] = sys.prefix
    warnings = env.get("PYTHONWARNINGS", "")
    if PYTHON_WARNING not in warnings.split(","):
        env["PYTHONWARNINGS"] = f"{warnings},{PYTHON_WARNING}" if warnings else PYTHON_WARNING
    return env


def execute(argv: Sequence[str], *, stdout: int | None = None) -> int:
    """Runs argv in the repository (tests replace this function to record argv)."""
    try:
        return subprocess.run(list(argv), cwd=REPO, env=tool_env(), stdout=stdout, check=False).returncode
    except OSError as exc:
        raise Stop(f"{argv[0]} could not be run: {exc.strerror or exc}.") from exc


def exit_status(rc: int) -> int:
    """A command's status as a shell reports it (a signal N is 128 + N)."""
    return rc if rc >= 0 else 128 - rc


def passed() -> list[str]:
    return list(click.get_current_context().meta.get(PASSED, []))


class Runtime:
    """What the group's options decided, for every verb."""

    def __init__(self, converge: str, dry_run: bool, make: bool) -> None:
        self.converge = shlex.split(converge)
        if not self.converge:
            raise click.BadParameter("the playbook runner is empty", param_hint="'--converge'")
        self.dry_run = dry_run
        self.make = make

    def name(self, verb: str) -> str:
        """How the user called the verb, for messages."""
        return f"make {verb}" if self.make else f"{PROG} {verb}"

    def playbook(
        self, playbook: str, extra: Sequence[str] = (), *, instance: str = "", verbose: int = 0
    ) -> list[str]:
        """The runner's argv, in the Makefile's order: the playbook, its -e values, the instance,
        then -v..., then what followed `--`."""
        return [
            *self.converge,
            playbook,
            *extra,
            *(["-e", f"integrador_instance={instance}"] if instance else []),
            *([f"-{'v' * verbose}"] if verbose else []),
            *passed(),
        ]

    def run(self, argv: Sequence[str], *, to_stderr: bool = False, shown: str | None = None) -> int:
        """Runs argv (prints it instead on a dry run); the command goes to stderr first, as make
        echoed it."""
        line = shown or shlex.join(argv)
        if self.dry_run:
            click.echo(line)
            return 0
        click.echo(line, err=True)
        return execute(argv, stdout=2 if to_stderr else None)

    def finish(self, rc: int) -> NoReturn:
        """0 done, 1 failed."""
        sys.exit(0 if rc == 0 else 1)

    def confirm(self, verb: str, yes: bool, what: str, question: str, make_form: str, cli_form: str) -> None:
        """Asks on a terminal (type yes); --yes (YES=1) does not ask; with no terminal, refuses (2)."""
        if yes or self.dry_run:
            return
        if not sys.stdin.isatty():
            form = make_form if self.make else f"{cli_form} (make: {make_form})"
            raise Stop(
                f"{self.name(verb)} {what}; with no terminal to ask on, run it as {form}. Nothing was run.", 2
            )
        click.echo(f"{self.name(verb)} {question} Type yes to go on: ", nl=False, err=True)
        answer = sys.stdin.readline()
        if answer.strip(" \t\n") != "yes":
            raise Stop("Not confirmed. Nothing was run.", 1)


pass_runtime = click.make_pass_decorator(Runtime)


class Verb(click.Command):
    """A verb whose arguments after the first `--` go, unchanged, to the program it runs."""

    def __init__(self, *args: Any, passes_to: str = "ansible-playbook", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.passes_to = passes_to

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            cut = args.index("--")
            ctx.meta[PASSED] = args[cut + 1 :]
            args = args[:cut]
        else:
            ctx.meta[PASSED] = []
        return super().parse_args(ctx, args)

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return [*super().collect_usage_pieces(ctx), f"[-- {self.passes_to.upper()} ARGUMENTS...]"]


def verb(
    short: str, name: str | None = None, *, passes_to: str = "ansible-playbook", examples: str = ""
) -> Callable:
    """A verb of the group: its line in `integrador --help`, its examples (from docs/day2.md)."""
    epilog = "\b\nExamples:\n" + examples.strip("\n") if examples else None
    return cli.command(name, cls=Verb, passes_to=passes_to, epilog=epilog, short_help=short)


def instance_option(function: Callable) -> Callable:
    return click.option(
        "--instance",
        type=InstanceType(),
        default="",
        metavar="NAME",
        help="The stack of that instance (a second stack side by side; make: INSTANCE=NAME). "
        "Lowercase letters, digits and dashes, not starting with a dash; none: the default stack.",
    )(function)


def verbose_option(function: Callable) -> Callable:
    return click.option(
        "-v", "--verbose", count=True, help="More of ansible-playbook's output (-v, -vv, ... are passed on)."
    )(function)


def stack_options(function: Callable) -> Callable:
    return instance_option(verbose_option(function))


# --- The group ------------------------------------------------------------------------------


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="\b\nExit status: 0 done (status: healthy), 1 failed, 2 bad usage (nothing was run);"
    "\nstatus passes ansible-playbook's own status on (non-zero: a part is unhealthy);"
    "\npsql, redis-cli and logs --follow end with their program's status."
    '\n\b\nShell completion: eval "$(integrador completion bash)" in ~/.bashrc (zsh, fish: see'
    "\nintegrador completion --help). Every make target is an alias: make status FORMAT=json is"
    "\nintegrador status --json (docs/day2.md).",
)
@click.option(
    "--converge",
    envvar="INTEGRADOR_CONVERGE",
    default="scripts/converge",
    show_default=True,
    metavar="COMMAND",
    help="What runs a playbook (make: CONVERGE=; relative to the repository; env INTEGRADOR_CONVERGE).",
)
@click.option("--dry-run", is_flag=True, help="Print the commands instead of running them.")
@click.option("--make", "from_make", is_flag=True, hidden=True, help="Called by the Makefile: make's names.")
@click.pass_context
def cli(ctx: click.Context, converge: str, dry_run: bool, from_make: bool) -> None:
    """The Integrador dev stack's commands: converge this machine (dev), then look after the
    running stack (status, logs, restart, backup, restore, reset, down, psql, redis-cli).
    `make <verb>` runs the same."""
    ctx.obj = Runtime(converge, dry_run or (from_make and make_dry_run()), from_make)


@verb(
    "converge this machine (every morning, after every pull)",
    examples="""
  integrador dev                              # every morning, after every pull
  integrador dev -- --tags api                # the API and what it needs (was start.sh --api-only)
  integrador dev -- --skip-tags docker        # the containers as they are (start.sh --skip-docker)
  integrador dev --instance b -- -e integrador_root=$HOME/src/integrador-feature""",
)
@stack_options
@pass_runtime
def dev(rt: Runtime, instance: str, verbose: int) -> None:
    """Converge this machine: containers, virtualenv and .env, API and gateway (playbooks/dev.yml).
    Changes nothing when everything is already there."""
    rt.finish(rt.run(rt.playbook("playbooks/dev.yml", instance=instance, verbose=verbose)))


@verb("dry run of dev: what would change", examples="  integrador check\n  integrador check -- --tags db")
@stack_options
@pass_runtime
def check(rt: Runtime, instance: str, verbose: int) -> None:
    """Dry run of dev: what would change (playbooks/dev.yml --check --diff)."""
    rt.finish(
        rt.run(rt.playbook("playbooks/dev.yml", ["--check", "--diff"], instance=instance, verbose=verbose))
    )


@verb(
    "one table of the stack; non-zero when a part is unhealthy",
    examples="""
  integrador status
  integrador status --json 2>/dev/null | jq .healthy
  until integrador status >/dev/null 2>&1; do sleep 2; done   # wait for the stack""",
)
@stack_options
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='JSON on stdout ({"healthy": ..., "hosts": {<host>: {"parts": [...]}}}), '
    "Ansible's output on stderr, the same exit status (make: FORMAT=json).",
)
@click.option(
    "--make-format",
    hidden=True,
    default="",
    type=MakeWord(
        "FORMAT", {"": False, "table": False, "json": True}, "FORMAT takes table|json (no FORMAT: table)"
    ),
)
@pass_runtime
def status(rt: Runtime, instance: str, verbose: int, as_json: bool, make_format: bool) -> None:
    """One table of the whole stack (playbooks/status.yml): containers, units, health endpoints,
    the backend's virtualenv. Exit status non-zero when a part is unhealthy."""
    if not (as_json or make_format):
        sys.exit(exit_status(rt.run(rt.playbook("playbooks/status.yml", instance=instance, verbose=verbose))))
    with tempfile.TemporaryDirectory(prefix="integrador-status-") as folder:
        argv = rt.playbook(
            "playbooks/status.yml",
            ["-e", f"integrador_status_json_dir={folder}"],
            instance=instance,
            verbose=verbose,
        )
        rc = rt.run(argv, to_stderr=True)
        if rt.dry_run:
            return
        hosts = {p.stem: json.loads(p.read_text()) for p in sorted(Path(folder).glob("*.json"))}
    healthy = bool(hosts) and all(host["healthy"] for host in hosts.values())
    click.echo(json.dumps({"healthy": healthy, "hosts": hosts}, indent=2))
    sys.exit(exit_status(rc))


@verb(
    "the last lines of every log, or --follow them",
    examples="""
  integrador logs
  integrador logs --service api -- -e integrador_logs_lines=200
  integrador logs --follow --service ws       # until Ctrl-C""",
)
@stack_options
@click.option(
    "--service",
    type=Service(["api", "ws", "db", "redis"], "all"),
    help="One part only (make: SERVICE=); none: every part.",
)
@click.option("--follow", is_flag=True, help="Follow the logs live until Ctrl-C (make: FOLLOW=1).")
@click.option(
    "--make-follow",
    hidden=True,
    default="",
    type=make_bool("FOLLOW", bool_takes("FOLLOW", "follows the logs live")),
)
@pass_runtime
def logs(
    rt: Runtime, instance: str, verbose: int, service: str | None, follow: bool, make_follow: bool
) -> None:
    """The last lines of every log (playbooks/logs.yml), or of one part; --follow follows them
    live (journalctl --follow, tail -F, docker logs --follow, as the host runs them)."""
    chosen = ["-e", f"integrador_logs_service={service}"] if service else []
    if not (follow or make_follow):
        rt.finish(rt.run(rt.playbook("playbooks/logs.yml", chosen, instance=instance, verbose=verbose)))
    with tempfile.TemporaryDirectory(prefix="integrador-logs-") as folder:
        extra = ["-e", f"integrador_logs_follow_dir={folder}", *chosen]
        rc = rt.run(rt.playbook("playbooks/logs.yml", extra, instance=instance, verbose=verbose))
        if rc or rt.dry_run:
            rt.finish(rc)
        commands = [json.loads(p.read_text()) for p in sorted(Path(folder).glob("*.json"))]
    if len(commands) != 1:
        limit = "ARGS=--limit=<host>" if rt.make else "-- --limit=<host>"
        what = "make logs FOLLOW=1" if rt.make else f"{PROG} logs --follow"
        raise Stop(f"{what} follows one host; the inventory gave {len(commands)}: limit it with {limit}.")
    sys.stdout.flush()
    os.execvpe(commands[0][0], commands[0], tool_env())


@verb(
    "restart the API and the gateway (or one); waits until healthy",
    examples="  integrador restart\n  integrador restart --service api",
)
@stack_options
@click.option(
    "--service",
    type=Service(["api", "ws"], "both"),
    help="Restart this one only (make: SERVICE=); none: both.",
)
@pass_runtime
def restart(rt: Runtime, instance: str, verbose: int, service: str | None) -> None:
    """Restart the API and the gateway, or one (playbooks/restart.yml), and wait until each
    answers its health check. The containers are left alone."""
    chosen = ["-e", f"integrador_restart_service={service}"] if service else []
    rt.finish(rt.run(rt.playbook("playbooks/restart.yml", chosen, instance=instance, verbose=verbose)))


@verb(
    "stop the services and containers; --purge removes the data",
    examples="""
  integrador down                             # data kept; integrador dev brings it back
  integrador down --purge                     # also the containers and volumes (docker compose down -v)
  integrador down --purge --instance b -- --check   # what it would remove""",
)
@stack_options
@click.option(
    "--purge", is_flag=True, help="Also remove the containers and the data volumes (make: PURGE=1)."
)
@click.option(
    "--make-purge",
    hidden=True,
    default="",
    type=make_bool(
        "PURGE",
        "PURGE=1 (or true, yes) removes the containers and volumes,"
        " PURGE=0 (or false, no, or no PURGE at all) keeps them",
    ),
)
@pass_runtime
def down(rt: Runtime, instance: str, verbose: int, purge: bool, make_purge: bool) -> None:
    """Stop the services and the containers (playbooks/down.yml); the data is kept unless --purge."""
    chosen = ["-e", "integrador_purge=true"] if purge or make_purge else []
    rt.finish(rt.run(rt.playbook("playbooks/down.yml", chosen, instance=instance, verbose=verbose)))


@verb("back up PostgreSQL and Redis", examples="  integrador backup\n  integrador backup --instance b")
@stack_options
@pass_runtime
def backup(rt: Runtime, instance: str, verbose: int) -> None:
    """Back up PostgreSQL and Redis into ~/integrador-backups/<time>/ (playbooks/backup.yml;
    ~/integrador-<instance>-backups for an instance)."""
    rt.finish(rt.run(rt.playbook("playbooks/backup.yml", instance=instance, verbose=verbose)))


def unsafe_extra_vars(backup: str, key: str = "backup") -> str:
    """An extra-vars file's text that gives `key: backup` exactly: a YAML double-quoted string
    (ASCII, \\U escapes) inside a mapping tagged !unsafe, so that Ansible neither templates it nor
    reads "0" or "yes" as a number or a boolean (a tag on the string itself would). No command-line
    form of -e can say all that."""
    out = ""
    for char in backup:
        if char in '"\\':
            out += "\\" + char
        elif " " <= char <= "~":
            out += char
        else:
            out += f"\\U{ord(char):08x}"
    return '!unsafe {"' + key + '": "' + out + '"}\n'


def run_with_extra_vars(
    rt: Runtime, text: str, prefix: str, playbook: Callable[[list[str]], list[str]]
) -> None:
    """Runs playbook(["-e", "@<file>"]) with text in a temporary extra-vars file (removed after),
    then finishes with its status; under make -n, prints the command and what the file holds."""
    if rt.dry_run:
        argv = playbook(["-e", "@EXTRA_VARS"])
        rt.run(argv, shown=shlex.join(argv) + f"  # EXTRA_VARS: a temporary file holding {text.strip()}")
        return
    handle, path = tempfile.mkstemp(prefix=prefix, suffix=".yml")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", errors="surrogateescape") as file:
            file.write(text)
        rc = rt.run(playbook(["-e", f"@{path}"]))
    finally:
        os.unlink(path)
    rt.finish(rc)


yes_option = click.option("--yes", "-y", is_flag=True, help="Go on without asking (make: YES=1).")
make_yes_option = click.option(
    "--make-yes", hidden=True, default="", type=make_bool("YES", bool_takes("YES", "goes on without asking"))
)


@verb(
    "put a backup back (asks; the current data is backed up first)",
    examples="""
  integrador restore 20251129T101503Z         # a folder of the backup directory
  integrador restore latest --yes
  integrador restore /mnt/usb/20251129T101503Z
  integrador restore "a folder with spaces"
  integrador restore --backup=-odd-name       # a name that starts with a dash""",
)
@stack_options
@click.argument("backup_name", metavar="BACKUP", required=False, shell_complete=complete_backup)
@click.option(
    "--backup",
    "backup_option",
    metavar="BACKUP",
    help="The backup, as an option (a name that starts with a dash; make: BACKUP=).",
)
@yes_option
@make_yes_option
@pass_runtime
def restore(
    rt: Runtime,
    instance: str,
    verbose: int,
    backup_name: str | None,
    backup_option: str | None,
    yes: bool,
    make_yes: bool,
) -> None:
    """Put a backup back (playbooks/restore.yml): BACKUP is a folder of the backup directory
    (integrador backup names it), a path, or latest. The current data is backed up first, and the
    summary names that backup. Asks first (type yes); with no terminal, only --yes goes on."""
    if backup_name is not None and backup_option is not None:
        raise click.UsageError("Give the backup once: BACKUP or --backup.")
    chosen = backup_name if backup_name is not None else backup_option
    if not chosen:
        if rt.make:
            raise Stop("usage: make restore BACKUP=<backup folder> [YES=1]", 2)
        raise click.UsageError(
            "Missing argument 'BACKUP': a backup folder (integrador backup names it) or latest."
        )
    rt.confirm(
        "restore",
        yes or make_yes,
        "replaces the current data",
        f"replaces the database and Redis data of the {instance or 'default'} stack with backup {chosen}"
        " (the current data is backed up first).",
        "make restore BACKUP=... YES=1",
        f"{PROG} restore BACKUP --yes",
    )
    run_with_extra_vars(
        rt,
        unsafe_extra_vars(chosen),
        "integrador-restore-",
        lambda extra: rt.playbook(
            "playbooks/restore.yml",
            ["-e", "integrador_restore_confirmed=true", *extra],
            instance=instance,
            verbose=verbose,
        ),
    )


# --- Snapshots ----------------------------------------------------------------------------------

# As library/integrador_snapshot.py checks it (module_utils/integrador_snapshot.py, NAME).
SNAPSHOT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,29}")
SNAPSHOT_RULE = "1 to 30 of a-z, 0-9, '-' and '_', starting with a letter or a digit"


class SnapshotName(CheckedName):
    """A snapshot's name: checked before a playbook runs (from make, as NAME=)."""

    pattern = SNAPSHOT_NAME
    make_variable = "NAME"
    what = "a snapshot name"
    rule = f"use {SNAPSHOT_RULE}"


def snapshot_name_option(required: bool) -> Callable[[Callable], Callable]:
    return click.option(
        "--name",
        "snapshot_name",
        type=SnapshotName(),
        default="",
        help=(
            "The snapshot (make: NAME=)."
            if required
            else "A name of your own (make: NAME=); none: the UTC time,"
            " and the snapshot is automatic (only integrador_snapshot_keep of those are kept)."
        ),
    )


def snapshot_playbook(
    rt: Runtime, action: str, name: str, instance: str, verbose: int, extra: Sequence[str] = ()
) -> list[str]:
    chosen = ["-e", f"integrador_snapshot_action={action}"]
    if name:
        chosen += ["-e", f"integrador_snapshot_name={name}"]
    return rt.playbook("playbooks/snapshot.yml", [*chosen, *extra], instance=instance, verbose=verbose)


def need_name(rt: Runtime, name: str, verb: str) -> None:
    if not name:
        if rt.make:
            raise Stop(f"usage: make {verb} NAME=<snapshot> (make snapshots lists them)", 2)
        raise click.UsageError(f"Missing --name: the snapshot ({PROG} snapshots lists them).")


@verb(
    "snapshot PostgreSQL and Redis (seconds; kept beside the live data)",
    examples="""
  integrador snapshot                         # automatic: named after the UTC time
  integrador snapshot --name before-migration # named: never dropped by integrador_snapshot_keep""",
)
@stack_options
@snapshot_name_option(required=False)
@pass_runtime
def snapshot(rt: Runtime, instance: str, verbose: int, snapshot_name: str) -> None:
    """Take a snapshot of PostgreSQL and Redis together (playbooks/snapshot.yml): the database is
    copied inside its own cluster, Redis' keys go to the stack's state folder. Sessions open on
    the database are closed (clients reconnect)."""
    rt.finish(rt.run(snapshot_playbook(rt, "take", snapshot_name, instance, verbose)))


@verb(
    "the snapshots: name, when, size, Alembic revision, git branch",
    examples="  integrador snapshots\n  integrador snapshots --json | jq -r '.hosts[].snapshots[].name'",
)
@stack_options
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='JSON on stdout ({"hosts": {<host>: {"snapshots": [...]}}}), '
    "Ansible's output on stderr (make: FORMAT=json).",
)
@click.option(
    "--make-format",
    hidden=True,
    default="",
    type=MakeWord(
        "FORMAT", {"": False, "table": False, "json": True}, "FORMAT takes table|json (no FORMAT: table)"
    ),
)
@pass_runtime
def snapshots(rt: Runtime, instance: str, verbose: int, as_json: bool, make_format: bool) -> None:
    """List the snapshots of the stack, oldest first (playbooks/snapshot.yml)."""
    if not (as_json or make_format):
        rt.finish(rt.run(snapshot_playbook(rt, "list", "", instance, verbose)))
    with tempfile.TemporaryDirectory(prefix="integrador-snapshots-") as folder:
        argv = snapshot_playbook(
            rt, "list", "", instance, verbose, ["-e", f"integrador_snapshot_json_dir={folder}"]
        )
        rc = rt.run(argv, to_stderr=True)
        if rt.dry_run:
            return
        hosts = {p.stem: json.loads(p.read_text()) for p in sorted(Path(folder).glob("*.json"))}
    click.echo(json.dumps({"hosts": hosts}, indent=2))
    rt.finish(rc)


@verb(
    "put a snapshot back (the replaced data becomes snapshot undo-<time>)",
    examples="  integrador restore-snapshot --name before-migration",
)
@stack_options
@snapshot_name_option(required=True)
@pass_runtime
def restore_snapshot(rt: Runtime, instance: str, verbose: int, snapshot_name: str) -> None:
    """Put a snapshot back, PostgreSQL and Redis (playbooks/snapshot.yml), then restart the API and
    the gateway. Does not ask: the data it replaces is kept as the automatic snapshot undo-<time>,
    which the summary names (restore that one to go back)."""
    need_name(rt, snapshot_name, "restore-snapshot")
    rt.finish(rt.run(snapshot_playbook(rt, "restore", snapshot_name, instance, verbose)))


@verb(
    "load a dump pg_dump wrote in place of the database (the replaced one becomes snapshot undo-<time>)",
    examples="""
  integrador import-db ~/Downloads/staging.dump      # --format=custom
  integrador import-db staging.sql.gz                # plain SQL, gzipped or not
  integrador import-db --file=staging_dir            # --format=directory (or tar)""",
)
@stack_options
@click.argument("dump", metavar="FILE", required=False, type=click.Path())
@click.option("--file", "dump_option", metavar="FILE", help="The dump, as an option (make: FILE=).")
@pass_runtime
def import_db(rt: Runtime, instance: str, verbose: int, dump: str | None, dump_option: str | None) -> None:
    """Load a dump in place of the stack's database (playbooks/snapshot.yml, import): plain SQL
    (.sql, .sql.gz), or pg_dump's custom, tar or directory format. It is loaded into a scratch
    database first without production's owners and grants, checked (tables, vector columns, an
    Alembic revision this checkout has), then swapped in; the API's start applies this checkout's
    migrations to it and never seeds it. Redis is unchanged. Does not ask: the database it replaces
    is kept as the automatic snapshot undo-<time>, which the summary names. FILE is a path on the
    machine the stack runs on."""
    if dump and dump_option:
        raise click.UsageError("Give the dump once: FILE or --file.")
    chosen = dump or dump_option
    if not chosen:
        if rt.make:
            raise Stop("usage: make import-db FILE=<what pg_dump wrote>", 2)
        raise click.UsageError("Missing argument 'FILE': the dump (what pg_dump wrote).")
    run_with_extra_vars(
        rt,
        unsafe_extra_vars(os.path.abspath(os.path.expanduser(chosen)), "integrador_import_file"),
        "integrador-import-",
        lambda extra: snapshot_playbook(rt, "import", "", instance, verbose, extra),
    )


@verb("remove a snapshot", examples="  integrador drop-snapshot --name before-migration")
@stack_options
@snapshot_name_option(required=True)
@pass_runtime
def drop_snapshot(rt: Runtime, instance: str, verbose: int, snapshot_name: str) -> None:
    """Remove a snapshot, its database and its Redis part (playbooks/snapshot.yml)."""
    need_name(rt, snapshot_name, "drop-snapshot")
    rt.finish(rt.run(snapshot_playbook(rt, "drop", snapshot_name, instance, verbose)))


@verb(
    "a fresh database (a backup first; asks)",
    examples="  integrador reset\n  integrador reset --yes       # a script, CI: no question",
)
@stack_options
@yes_option
@make_yes_option
@pass_runtime
def reset(rt: Runtime, instance: str, verbose: int, yes: bool, make_yes: bool) -> None:
    """A fresh database (playbooks/reset.yml): a backup first, then the PostgreSQL volume is
    removed, migrated and seeded again (Redis, .env and the virtualenv stay). Asks first (type
    yes); with no terminal, only --yes goes on. Undo: integrador restore <the backup it took>."""
    rt.confirm(
        "reset",
        yes or make_yes,
        "removes the database",
        f"backs up, then REMOVES the PostgreSQL database of the {instance or 'default'} stack and starts"
        " it empty (Redis is kept).",
        "make reset YES=1",
        f"{PROG} reset --yes",
    )
    extra = ["-e", "integrador_reset_confirmed=true"]
    rt.finish(rt.run(rt.playbook("playbooks/reset.yml", extra, instance=instance, verbose=verbose)))


@verb(
    "the preflight alone: what is missing (changes nothing)",
    examples="  integrador doctor\n  integrador doctor --instance b",
)
@stack_options
@pass_runtime
def doctor(rt: Runtime, instance: str, verbose: int) -> None:
    """The preflight alone (playbooks/doctor.yml): Docker engine, ports, disk, checkout, Python,
    user manager, settings, as a checklist. Changes nothing. Exit status 1 when it found a problem."""
    rt.finish(rt.run(rt.playbook("playbooks/doctor.yml", instance=instance, verbose=verbose)))


# psql and redis-cli: the containers' names and settings are read by a playbook that loads the
# roles' defaults (as the day-two playbooks do) and runs none of their tasks; then docker exec
# runs the client (a terminal only when stdin is one). The Redis password is never on a command
# line or in the output: the container's own REDISCLI_AUTH gives it.
SETTINGS_PLAYBOOK = """\
- name: Settings of the containers
  hosts: all
  gather_facts: false
  tasks:
    - name: Settings of the postgres_pgvector role are loaded
      ansible.builtin.import_role:
        name: postgres_pgvector
      tags: [never]
    - name: Settings of the redis role are loaded
      ansible.builtin.import_role:
        name: redis
      tags: [never]
    - name: Settings are shown
      ansible.builtin.debug:
        msg:
          psql: ["{{ postgres_pgvector_container_name }}", psql, --username, "{{ postgres_pgvector_user }}", \
--dbname, "{{ postgres_pgvector_db }}"]
          redis-cli: ["{{ redis_container_name }}", redis-cli]
          docker_host: "{{ integrador_docker_host | default('', true) }}"
"""


def read_settings(text: str, client: str) -> tuple[str, list[str]]:
    """The json callback's document (warnings or the timer's line may come before or after it)."""
    start = re.search("^[{]", text, re.M)
    if not start:
        raise ValueError("no JSON document in the output")
    out = json.JSONDecoder().raw_decode(text, start.start())[0]
    msg = next(iter(out["plays"][0]["tasks"][-1]["hosts"].values()))["msg"]
    return msg["docker_host"], [str(arg) for arg in msg[client]]


def container_shell(rt: Runtime, client: str, instance: str, verbose: int) -> NoReturn:
    handle, play = tempfile.mkstemp(prefix="integrador-settings-", suffix=".yml")
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        file.write(SETTINGS_PLAYBOOK)
    argv = [
        "ansible-playbook",
        play,
        *(["-e", f"integrador_instance={instance}"] if instance else []),
        *([f"-{'v' * verbose}"] if verbose else []),
        *passed(),
    ]
    env = dict(tool_env(), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    try:
        if rt.dry_run:
            click.echo(f"ANSIBLE_STDOUT_CALLBACK=ansible.builtin.json {shlex.join(argv)}")
            click.echo(f"docker exec -i [-t] <the {client} command those settings name>")
            sys.exit(0)
        proc = subprocess.run(
            argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
        )
    finally:
        os.unlink(play)
    output = proc.stdout + proc.stderr
    try:
        if proc.returncode:
            raise ValueError(f"ansible-playbook exited with {proc.returncode}")
        docker_host, command = read_settings(proc.stdout, client)
    except (ValueError, LookupError, TypeError) as exc:
        sys.stderr.write(output if output.endswith("\n") or not output else output + "\n")
        raise Stop(f"{rt.name(client)}: the settings could not be read (above).") from exc
    run_env = tool_env()
    if docker_host:
        run_env["DOCKER_HOST"] = docker_host
    tty = ["-t"] if sys.stdin.isatty() else []
    sys.stdout.flush()
    os.execvpe("docker", ["docker", "exec", "-i", *tty, *command], run_env)


@verb("psql on the database", examples="  integrador psql\n  echo 'select 1' | integrador psql")
@stack_options
@pass_runtime
def psql(rt: Runtime, instance: str, verbose: int) -> None:
    """Interactive psql on the database (menu_ops) as postgres_pgvector_user, in its container.
    Piped input works. Ends with psql's own exit status."""
    container_shell(rt, "psql", instance, verbose)


@verb(
    "redis-cli on Redis", "redis-cli", examples="  integrador redis-cli\n  echo ping | integrador redis-cli"
)
@stack_options
@pass_runtime
def redis_cli(rt: Runtime, instance: str, verbose: int) -> None:
    """Interactive redis-cli in the Redis container, authenticated when redis_password is set
    (the password is never printed). Ends with redis-cli's own exit status."""
    container_shell(rt, "redis-cli", instance, verbose)


@verb(
    "a bare laptop's prerequisites (Docker, Python venv, git, make)",
    examples="  integrador workstation\n  integrador workstation -- --check",
)
@verbose_option
@pass_runtime
def workstation(rt: Runtime, verbose: int) -> None:
    """A bare laptop's prerequisites (playbooks/workstation.yml): Docker engine, Python 3 with venv,
    git, make, the docker group, lingering. Asks sudo's password once (not as root, nor where sudo
    needs none). On a machine with no Python venv yet, run make workstation: it installs that first."""
    become = [] if os.geteuid() == 0 or sudo_needs_no_password() else ["--ask-become-pass"]
    argv = [
        "ansible-playbook",
        "playbooks/workstation.yml",
        *become,
        *([f"-{'v' * verbose}"] if verbose else []),
        *passed(),
    ]
    rt.finish(rt.run(argv))


def sudo_needs_no_password() -> bool:
    try:
        return subprocess.run(["sudo", "-n", "true"], capture_output=True, check=False).returncode == 0
    except OSError:
        return False


@verb(
    "time the converges (bench/run.py)",
    passes_to="bench/run.py",
    examples="  integrador bench\n  integrador bench -- --runs 3 --mitogen",
)
@pass_runtime
def bench(rt: Runtime) -> None:
    """Time the converges (bench/run.py, in a test laptop container): builds the local stand-in
    images first (make images: tests/images/build.sh)."""
    # make images is the one recipe of the stand-in images (the tests' own, too).
    for argv in (["make", "--no-print-directory", "images"], ["python", "bench/run.py", *passed()]):
        rc = rt.run(argv)
        if rc:
            rt.finish(rc)
    rt.finish(0)


@cli.command(
    short_help="print the shell completion script (bash, zsh, fish)",
    epilog="\b\nInstall (once; integrador must be on PATH, for example"
    '\nln -s "$PWD/.venv/bin/integrador" ~/.local/bin/):'
    "\n  bash: echo 'eval \"$(integrador completion bash)\"' >> ~/.bashrc"
    "\n  zsh:  echo 'eval \"$(integrador completion zsh)\"' >> ~/.zshrc"
    "\n  fish: integrador completion fish > ~/.config/fish/completions/integrador.fish",
)
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script for SHELL (Click's own: verbs, options, service names,
    instance names found on this machine, backup folders for restore)."""
    completer = get_completion_class(shell)
    assert completer is not None
    click.echo(completer(cli, {}, PROG, COMPLETE_VAR).source())
