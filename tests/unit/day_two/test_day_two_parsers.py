"""The day_two role's parsers (filter_plugins/day_two.py) on free-form input: Redis INFO
text, sha256sum files, backup names and supervisord states. Whatever the text, they
return a value and never raise; what they read is what was written."""

from __future__ import annotations

import hashlib
import re
import string
from types import ModuleType

import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import example, given, settings
from hypothesis import strategies as st

# Redis INFO field names: lowercase words with underscores; values: anything on one line.
INFO_KEYS = st.from_regex(r"[a-z][a-z0-9_]{0,30}", fullmatch=True)
INFO_VALUES = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=40).map(
    str.strip
)
# Any name on one line, spaces and a leading * included (sha256sum's text-mode line keeps them).
FILE_NAMES = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40).filter(
    lambda n: n.splitlines() == [n]
)
DIGESTS = st.binary(max_size=64).map(lambda b: hashlib.sha256(b).hexdigest())

# What `redis-cli INFO persistence` printed on the stand-in image (Redis 8, trixie).
REAL_INFO = (
    "# Persistence\r\nloading:0\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\nrdb_changes_since_last_save:0\r\n"
    "rdb_bgsave_in_progress:0\r\nrdb_last_save_time:1764468000\r\nrdb_last_bgsave_status:ok\r\nrdb_saves:3\r\n"
    "aof_enabled:1\r\naof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\naof_last_bgrewrite_status:ok\r\n"
)


def test_redis_info_reads_the_persistence_section(day_two: ModuleType) -> None:
    info = day_two.redis_info(REAL_INFO)
    assert info["rdb_saves"] == "3"
    assert info["rdb_bgsave_in_progress"] == "0"
    assert info["rdb_last_bgsave_status"] == "ok"
    assert info["aof_last_bgrewrite_status"] == "ok"
    assert "# Persistence" not in info


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(INFO_KEYS, INFO_VALUES, max_size=12), st.sampled_from(["\n", "\r\n"]))
def test_redis_info_reads_back_what_redis_wrote(
    day_two: ModuleType, fields: dict[str, str], eol: str
) -> None:
    text = "# Server" + eol + eol.join(f"{k}:{v}" for k, v in fields.items()) + eol + eol + "# Other" + eol
    assert day_two.redis_info(text) == fields


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(), st.none(), st.integers()))
@example("rdb_saves")
@example(":::")
@example("rdb_saves:\x00:1")
def test_redis_info_never_raises(day_two: ModuleType, text: object) -> None:
    info = day_two.redis_info(text)
    assert all(isinstance(k, str) and k and isinstance(v, str) for k, v in info.items())


def test_a_field_that_only_starts_like_another_is_not_it(day_two: ModuleType) -> None:
    # The old substring test took rdb_bgsave_in_progress:01 for :0.
    assert day_two.redis_info("rdb_bgsave_in_progress:01").get("rdb_bgsave_in_progress") == "01"


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(FILE_NAMES, DIGESTS, min_size=1, max_size=6))
def test_sha256sums_round_trip(day_two: ModuleType, files: dict[str, str]) -> None:
    text = day_two.sha256sums_format(files)
    assert day_two.sha256sums_parse(text) == files
    assert day_two.sha256sums_mismatches(text, files) == []


def test_sha256sums_is_what_sha256sum_writes(day_two: ModuleType, tmp_path: object) -> None:
    digest = hashlib.sha256(b"dump").hexdigest()
    assert day_two.sha256sums_format({"postgres.dump": digest}) == f"{digest}  postgres.dump\n"
    # sha256sum -b and uppercase digests are read too.
    assert day_two.sha256sums_parse(f"{digest.upper()} *dump.rdb\n") == {"dump.rdb": digest}


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(FILE_NAMES, DIGESTS, min_size=1, max_size=6), st.data())
def test_a_changed_or_missing_file_is_named(
    day_two: ModuleType, files: dict[str, str], data: st.DataObject
) -> None:
    text = day_two.sha256sums_format(files)
    victim = data.draw(st.sampled_from(sorted(files)))
    changed = dict(files, **{victim: hashlib.sha256(files[victim].encode()).hexdigest()})
    assert day_two.sha256sums_mismatches(text, changed) == [victim]
    unlisted = data.draw(FILE_NAMES.filter(lambda n: n not in files))
    assert day_two.sha256sums_mismatches(text, {unlisted: files[victim]}) == [unlisted]


@settings(max_examples=200, deadline=None)
@given(st.text())
@example("0" * 64)
@example("0" * 64 + "  ")
@example("zz  postgres.dump")
def test_a_damaged_sha256sums_never_raises_and_lists_nothing_it_cannot_read(
    day_two: ModuleType, text: str
) -> None:
    sums = day_two.sha256sums_parse(text)
    assert all(re.fullmatch(r"[0-9a-f]{64}", d) and n for n, d in sums.items())
    found = {"postgres.dump": hashlib.sha256(b"x").hexdigest()}
    assert day_two.sha256sums_mismatches(text, found) in ([], ["postgres.dump"])


@pytest.mark.parametrize("name", ["a\nb", "", "c\rd", "e\u2028f"])
def test_a_file_name_sha256sum_cannot_list_is_refused(day_two: ModuleType, name: str) -> None:
    with pytest.raises(AnsibleFilterError, match="cannot list"):
        day_two.sha256sums_format({name: hashlib.sha256(b"").hexdigest()})


TIMES = st.from_regex(r"20[0-9]{2}[01][0-9][0-3][0-9]T[0-2][0-9][0-5][0-9][0-5][0-9]Z", fullmatch=True)


@settings(max_examples=150, deadline=None)
@given(TIMES, st.data())
def test_a_new_backup_takes_the_first_free_name_of_its_second(
    day_two: ModuleType, time: str, data: st.DataObject
) -> None:
    candidates = [time] + [f"{time}-{n:02d}" for n in range(2, 100)]
    taken = data.draw(st.sets(st.sampled_from(candidates), max_size=98))
    # Folders of other seconds and foreign names in the backup folder do not matter.
    noise = data.draw(st.lists(st.text(string.printable, max_size=20), max_size=5))
    name = day_two.backup_name(time, [*taken, *noise])
    assert name not in taken
    assert re.fullmatch(re.escape(time) + r"(-[0-9]{2})?", name)
    assert all(c in taken for c in candidates[: candidates.index(name)])


def test_a_second_with_99_backups_is_refused(day_two: ModuleType) -> None:
    time = "20250101T120000Z"
    taken = [time] + [f"{time}-{n:02d}" for n in range(2, 100)]
    with pytest.raises(AnsibleFilterError, match="wait a second"):
        day_two.backup_name(time, taken)


SERVICES = [{"program": "integrador-api", "unit": "integrador-api.service"}, {"program": "integrador-ws"}]


def test_supervisord_programs_read_like_units(day_two: ModuleType) -> None:
    programs = {
        "integrador-api": {"state": "RUNNING", "pid": 12},
        "integrador-ws": {"state": "BACKOFF", "pid": 0},
    }
    api, ws = day_two.supervisor_units(SERVICES, programs, True)
    assert api["item"] == {"unit": "integrador-api"}
    assert api["status"]["ActiveState"] == "active" and api["status"]["SubState"] == "running"
    assert ws["status"]["ActiveState"] == "activating"
    # A program supervisord does not know is not installed; a silent supervisord says so.
    missing = day_two.supervisor_units(SERVICES, {}, True)[0]["status"]
    assert missing["LoadState"] == "not-found"
    silent = day_two.supervisor_units(SERVICES, {}, False)[0]["status"]
    assert silent["LoadState"] == "loaded" and silent["SubState"] == "supervisord not running"


# --- pg_restore --data-only --table=alembic_version --file=- ----------------------------------

REVISION_IDS = st.lists(st.from_regex(r"[A-Za-z0-9_]{1,32}", fullmatch=True), max_size=3)


@given(REVISION_IDS)
def test_copy_rows_gives_the_revisions_pg_restore_printed(day_two: ModuleType, revisions: list[str]) -> None:
    """The shape pg_restore prints for one table's data (its SET lines, the COPY block)."""
    script = (
        "--\n-- PostgreSQL database dump\n--\n\nSET statement_timeout = 0;\n\n"
        "--\n-- Data for Name: alembic_version; Type: TABLE DATA; Schema: public; Owner: integrador\n--\n\n"
        "COPY public.alembic_version (version_num) FROM stdin;\n"
        + "".join(f"{r}\n" for r in revisions)
        + "\\.\n\n\n--\n-- PostgreSQL database dump complete\n--\n\n"
    )
    assert day_two.copy_rows(script) == revisions


@given(st.text())
@example("COPY public.alembic_version (version_num) FROM stdin;\n")
def test_copy_rows_never_raises(day_two: ModuleType, text: str) -> None:
    rows = day_two.copy_rows(text)
    assert isinstance(rows, list) and all(isinstance(r, str) for r in rows)
    if "COPY " not in text:
        assert rows == []


def test_a_line_with_one_space_names_the_whole_file(day_two: ModuleType) -> None:
    """Read leniently (a hand-written line): the name is what follows the space, never cut."""
    digest = hashlib.sha256(b"dump").hexdigest()
    assert day_two.sha256sums_parse(f"{digest} postgres.dump\n") == {"postgres.dump": digest}
