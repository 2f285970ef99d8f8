"""Filters of the day_two role: what the day-two verbs parse or lay out.

Each takes what a module returned (integrador_containers, systemd_service,
the status probe, `redis-cli INFO`, a SHA256SUMS file) and never raises on
free-form text: a line it cannot read is skipped, so a damaged file or an odd
answer becomes a failed check with a message, not a traceback.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


# --- Redis -----------------------------------------------------------------


def redis_info(text: Any) -> dict[str, str]:
    """`redis-cli INFO [section]` output as {field: value}: `# Section` headers,
    blank lines and anything without a colon are skipped; values stay text
    (rdb_saves: "3"), split at the first colon only."""
    fields: dict[str, str] = {}
    for line in str(text if text is not None else "").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition(":")
        if sep and key:
            fields[key] = value
    return fields


# --- SHA256SUMS --------------------------------------------------------------


def sha256sums_parse(text: Any) -> dict[str, str]:
    """A sha256sum file ("<sha256>  <name>" or "<sha256> *<name>" per line) as
    {name: lowercase sha256}; lines that are not such a line are skipped."""
    sums: dict[str, str] = {}
    for line in str(text if text is not None else "").splitlines():
        digest, _, rest = line.partition(" ")
        name = rest[1:] if rest[:1] in (" ", "*") else rest
        if _HEX64.fullmatch(digest) and name:
            sums[name] = digest.lower()
    return sums


def sha256sums_mismatches(text: Any, found: Mapping[str, Any]) -> list[str]:
    """Names in found ({name: sha256 of the file as it is now}) that the sha256sum
    file text does not list with that checksum (missing, or different), in order."""
    listed = sha256sums_parse(text)
    return [name for name, digest in found.items() if listed.get(name) != str(digest or "").lower()]


def sha256sums_format(files: Mapping[str, Any]) -> str:
    """{name: sha256} as a sha256sum file, so `sha256sum -c SHA256SUMS` checks it by hand."""
    lines = []
    for name, digest in files.items():
        # One line per file: a name that splits into lines could not be read back.
        if not _HEX64.fullmatch(str(digest)) or str(name).splitlines() != [str(name)]:
            raise AnsibleFilterError(
                f"day_two_sha256sums_format: cannot list {name!r} with checksum {digest!r}"
            )
        lines.append(f"{str(digest).lower()}  {name}\n")
    return "".join(lines)


# --- backups -------------------------------------------------------------------


def backup_name(time: Any, taken: Iterable[Any]) -> str:
    """The name of a new backup made at time (YYYYmmddTHHMMSSZ): the time itself, or,
    when a backup of that second exists, the first free time-02 ... time-99."""
    used = {str(name) for name in taken or []}
    for name in [str(time)] + [f"{time}-{n:02d}" for n in range(2, 100)]:
        if name not in used:
            return name
    raise AnsibleFilterError(
        f"99 backups were already made in the second {time}: wait a second and back up again."
    )


# --- service managers -----------------------------------------------------------

_SV_ACTIVE = {"RUNNING": "active", "STARTING": "activating", "BACKOFF": "activating", "FATAL": "failed"}


def supervisor_units(
    services: Iterable[Mapping[str, Any]], programs: Mapping[str, Any], answers: Any
) -> list[dict]:
    """supervisord programs (app_services_units.supervisor.programs) in the shape of
    systemd_service's loop results ({item: {unit}, status: {LoadState, ...}}), so the
    verbs read both alike; each program is named by its supervisord name."""
    results = []
    for svc in services:
        prog = (programs or {}).get(svc["program"]) or {}
        state = str(prog.get("state", ""))
        results.append(
            {
                "item": {"unit": svc["program"]},
                "status": {
                    "LoadState": "loaded" if prog or not answers else "not-found",
                    "ActiveState": _SV_ACTIVE.get(state, "inactive"),
                    "SubState": state.lower() if answers else "supervisord not running",
                    "UnitFileState": "supervisord (not started at boot)",
                    "StateChangeTimestamp": "",
                    "NRestarts": "?",
                },
            }
        )
    return results


def systemd_units(services: Iterable[Mapping[str, Any]], shown: Mapping[str, Any]) -> list[dict]:
    """One `systemctl --user show --property=... -- unit...` run (its registered result) as
    systemd_service's loop results ({item, status: {LoadState, ...}}), one per service in order:
    each block of KEY=VALUE lines is matched to its unit by Id. A user manager that did not
    answer (a non-zero exit, or no block for a unit) gives each service failed and msg, and no
    status, as a failed systemd_service run did."""
    blocks: dict[str, dict[str, str]] = {}
    if not shown.get("rc"):
        # Lines end at "\n" only: a value may hold any other character.
        for block in re.split(r"\n[ \t]*\n", str(shown.get("stdout") or "")):
            props = dict(line.partition("=")[::2] for line in block.split("\n") if "=" in line)
            if props.get("Id"):
                blocks[props["Id"]] = props
    why = _trim(shown.get("stderr") or shown.get("msg") or "") or f"exit code {shown.get('rc')}"
    results: list[dict] = []
    for svc in services:
        found = blocks.get(str(svc.get("unit")))
        if found is None:
            results.append({"item": svc, "failed": True, "msg": why})
        else:
            results.append({"item": svc, "status": found})
    return results


# --- status --------------------------------------------------------------------


def _row(ok: bool | None, part: str, name: Any, status: Any, since: Any, details: Any) -> dict[str, Any]:
    return {
        "ok": ok,
        "part": part,
        "name": str(name),
        "status": str(status),
        "since": str(since),
        "details": str(details),
    }


def _trim(value: Any) -> str:
    return str(value if value is not None else "").strip()


def container_rows(
    results: Iterable[Mapping[str, Any]], answering: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """Rows of integrador_containers' results (item {name, docker_host}, exists, container, as
    docker_container_info's loop registers them; failed and msg for an engine that did not
    answer). answering: the containers that answered when asked directly (integrador_wait's
    `ready`): one that Docker's healthcheck, every 10 s, still calls "starting" is healthy when
    it answers."""
    answered = set(answering or [])
    rows = []
    for r in results:
        item = r.get("item") or {}
        if "exists" not in r:
            rows.append(
                _row(
                    False,
                    "container",
                    item.get("name", "?"),
                    "unknown",
                    "-",
                    f"Docker engine {item.get('docker_host', '?')} did not answer: {_trim(r.get('msg', ''))}",
                )
            )
            continue
        if not r["exists"]:
            rows.append(
                _row(
                    False,
                    "container",
                    item.get("name", "?"),
                    "missing",
                    "-",
                    "not created (dev.yml creates it)",
                )
            )
            continue
        name = item.get("name", "?")
        c = r.get("container") or {}
        s = c.get("State") or {}
        health = str((s.get("Health") or {}).get("Status") or "")
        running = bool(s.get("Running"))
        ports = [
            f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}->{port}"
            for port, binds in ((c.get("HostConfig") or {}).get("PortBindings") or {}).items()
            for b in binds or []
        ]
        since = str((s.get("StartedAt") if running else s.get("FinishedAt")) or "")
        status = str(s.get("Status", ""))
        starting_but_answering = health == "starting" and name in answered
        if health and running:
            status += f" ({health}, answering)" if starting_but_answering else f" ({health})"
        if s.get("Status") == "exited":
            status += f" (code {s.get('ExitCode')})"
        rows.append(
            _row(
                running and (health in ("", "healthy") or starting_but_answering),
                "container",
                name,
                status,
                "-" if since.startswith("0001-") else since[:19].replace("T", " ") + " UTC",
                ", ".join(
                    [
                        str((c.get("Config") or {}).get("Image", "?")),
                        *ports,
                        f"restarts {c.get('RestartCount', '?')}",
                    ]
                ),
            )
        )
    return rows


def starting_containers(results: Iterable[Mapping[str, Any]]) -> list[str]:
    """Names of the running containers Docker's healthcheck still calls "starting"."""
    names = []
    for r in results:
        state = (r.get("container") or {}).get("State") or {}
        health = (state.get("Health") or {}).get("Status")
        if r.get("exists") and state.get("Running") and health == "starting":
            names.append(str((r.get("item") or {}).get("name", "?")))
    return names


def unit_rows(results: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows of systemd_service's loop results (or supervisor_units'), skipped ones left out."""
    rows = []
    for r in results:
        if "skipped" in r:
            continue
        name = (r.get("item") or {}).get("unit", "?")
        if "status" not in r:
            rows.append(
                _row(
                    False,
                    "unit",
                    name,
                    "unknown",
                    "-",
                    "systemctl --user: " + _trim(r.get("msg", "no answer")),
                )
            )
            continue
        p = r.get("status") or {}
        if p.get("LoadState") == "not-found":
            rows.append(_row(None, "unit", name, "not installed", "-", "app_services (dev.yml) installs it"))
            continue
        since = re.sub(r"^[A-Za-z]{3} ", "", str(p.get("StateChangeTimestamp") or ""), count=1) or "-"
        rows.append(
            _row(
                p.get("ActiveState") == "active",
                "unit",
                name,
                f"{p.get('ActiveState')} ({p.get('SubState')}), {p.get('UnitFileState')}",
                since,
                f"restarts {p.get('NRestarts', '?')}",
            )
        )
    return rows


def endpoint_rows(
    probes: Iterable[Mapping[str, Any]],
    services: Iterable[Mapping[str, Any]],
    units: Iterable[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """Rows of the health probe's answers (one per service, in order): an endpoint of a
    unit that is not installed counts as not installed, not as unhealthy."""
    by_unit = {(r.get("item") or {}).get("unit"): r.get("status") or {} for r in units if "skipped" not in r}
    rows = []
    for h, svc in zip(probes, services, strict=False):
        absent = (by_unit.get(svc.get("unit")) or {}).get("LoadState", "") == "not-found"
        ok = True if h.get("status") == 200 else (None if absent else False)
        details = f"{h.get('ms')} ms" + (f", {h['error']}" if h.get("error") else "")
        status = f"HTTP {h['status']}" if h.get("status") else "no answer"
        rows.append(_row(ok, "endpoint", h.get("url", "?"), status, "-", details))
    return rows


def restore_row(journal: Any) -> list[dict[str, Any]]:
    """The row of an interrupted restore's journal (its JSON text), or no row without one."""
    if journal in (None, ""):
        return []
    try:
        j = json.loads(journal) if isinstance(journal, str) else dict(journal)
    except (ValueError, TypeError):
        return [
            _row(False, "restore", "?", "interrupted (unreadable journal)", "-", "restore.json is not JSON")
        ]
    if not isinstance(j, dict):
        return [
            _row(
                False,
                "restore",
                "?",
                "interrupted (unreadable journal)",
                "-",
                "restore.json is not an object",
            )
        ]
    step, backup = j.get("step"), j.get("backup", "?")
    details = (
        "staging only, the live data untouched; the next restore removes its scratch data"
        if step == "staging"
        else f'half done: finish it with make restore BACKUP="{backup}"'
    )
    return [
        _row(
            step == "staging",
            "restore",
            backup,
            f"interrupted ({step or '?'})",
            j.get("started", "-"),
            details,
        )
    ]


def venv_row(result: Mapping[str, Any], root: Any) -> list[dict[str, Any]]:
    """The row of integrador_python_env's check-mode result."""
    if "venv" not in result:
        first = (_trim(result.get("msg", "")).splitlines() or [""])[0]
        return [_row(False, "venv", root, "error", "-", first)]
    rebuilt, installed = result.get("rebuilt"), result.get("installed")
    details = (
        "not created or broken (dev.yml builds it)"
        if rebuilt
        else "requirements changed since the last install (dev.yml installs them)"
        if installed
        else "requirements up to date"
    )
    status = f"Python {result['python_version']}" if result.get("python_version") else "missing"
    return [_row(not (rebuilt or installed), "venv", result["venv"], status, "-", details)]


def status_table(rows: list[Mapping[str, Any]]) -> list[str]:
    """The rows as `docker compose ps`-like lines: a header, one line per row (ok, FAIL,
    or - for a part not installed), then the verdict."""
    # The header's first column (ok/FAIL/-) is blank: the loop below writes it for rows only.
    header = {
        "part": "PART",
        "name": "NAME",
        "status": "STATUS",
        "since": "SINCE",
        "details": "DETAILS",
    }
    table = [header, *rows]
    widths = {key: max(len(str(r[key])) for r in table) + 2 for key in ("part", "name", "status", "since")}
    lines = []
    for i, r in enumerate(table):
        mark = "" if i == 0 else "ok" if r["ok"] else "-" if r["ok"] is None else "FAIL"
        lines.append(
            mark.ljust(6)
            + "".join(str(r[key]).ljust(widths[key]) for key in ("part", "name", "status", "since"))
            + str(r["details"])
        )
    problems = [r for r in rows if r["ok"] is False]
    counted = [r for r in rows if r["ok"] is not None]
    absent = [str(r["name"]) for r in rows if r["ok"] is None and r["part"] == "unit"]
    verdict = f"{len(problems)} of {len(counted)} parts unhealthy" if problems else "All parts healthy"
    lines.append(verdict + (f", not installed: {', '.join(absent)}" if absent else ""))
    return lines


# --- pg_restore ----------------------------------------------------------------


def copy_rows(text: Any) -> list[str]:
    """The rows of the first COPY block in a plain SQL script (`pg_restore --data-only --table=...
    --file=-`), as their text lines: [] when the script has no COPY (no such table, or no rows).
    Escapes are left alone: an Alembic revision is a plain identifier."""
    rows: list[str] = []
    inside = False
    for line in str(text if text is not None else "").splitlines():
        if not inside:
            inside = line.startswith("COPY ") and line.rstrip().endswith("FROM stdin;")
            continue
        if line == "\\.":
            break
        if line:
            rows.append(line.split("\t", 1)[0])
    return rows


# --- snapshots -------------------------------------------------------------------


def human_bytes(size: Any) -> str:
    """1536 -> '1.5 KiB'; None -> '-' (a part that is missing)."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"  # pragma: no cover (the loop returns)


def snapshot_table(snapshots: Iterable[Mapping[str, Any]]) -> list[str]:
    """`make snapshots`: a header and one line per snapshot, oldest first, then how many."""
    header = ("NAME", "TAKEN (UTC)", "SIZE", "REVISION", "BRANCH", "KIND")
    rows = [
        (
            str(s["name"]),
            str(s["taken"]).replace("T", " ").rstrip("Z") or "?",
            human_bytes(s["bytes"])
            + (" + " + human_bytes(s["redis_bytes"]) if s["complete"] else " (Redis part missing)"),
            str(s["revision"]) or "-",
            str(s["branch"]) or "-",
            "named" if s["named"] else "automatic",
        )
        for s in snapshots
    ]
    if not rows:
        return ["No snapshots yet: `make snapshot [NAME=...]` takes one."]
    widths = [max(len(r[i]) for r in [header, *rows]) + 2 for i in range(len(header) - 1)]
    lines = [
        "".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + r[-1] for r in [header, *rows]
    ]
    lines.append(f"{len(rows)} snapshot{'' if len(rows) == 1 else 's'}")
    return lines


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "day_two_redis_info": redis_info,
            "day_two_sha256sums_parse": sha256sums_parse,
            "day_two_sha256sums_mismatches": sha256sums_mismatches,
            "day_two_sha256sums_format": sha256sums_format,
            "day_two_backup_name": backup_name,
            "day_two_copy_rows": copy_rows,
            "day_two_supervisor_units": supervisor_units,
            "day_two_systemd_units": systemd_units,
            "day_two_container_rows": container_rows,
            "day_two_starting_containers": starting_containers,
            "day_two_unit_rows": unit_rows,
            "day_two_endpoint_rows": endpoint_rows,
            "day_two_restore_row": restore_row,
            "day_two_venv_row": venv_row,
            "day_two_status_table": status_table,
            "day_two_snapshot_table": snapshot_table,
        }
