# The grammar of python-dotenv's parser (dotenv/parser.py of python-dotenv 1.2.2), ported so
# that a module on the managed host reads a .env file exactly as the backend will, without
# python-dotenv installed there. The port adds what an in-place editor needs: where each
# binding, its key and its value lie in the text. tests/unit/modules/test_integrador_dotenv.py
# compares it with the real python-dotenv on generated files.
#
# The regular expressions and the parsing steps are python-dotenv's:
#
# Copyright (c) 2014, Saurabh Kumar (python-dotenv), 2013, Ted Tieken (django-dotenv-rw),
# 2013, Jacob Kaplan-Moss (django-dotenv)
#
# Redistribution and use in source and binary forms, with or without modification,
# are permitted provided that the following conditions are met:
#
# - Redistributions of source code must retain the above copyright notice,
#   this list of conditions and the following disclaimer.
#
# - Redistributions in binary form must reproduce the above copyright notice,
#   this list of conditions and the following disclaimer in the documentation
#   and/or other materials provided with the distribution.
#
# - Neither the name of django-dotenv nor the names of its contributors
#   may be used to endorse or promote products derived from this software
#   without specific prior written permission.
#
# THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS
# "AS IS" AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT
# LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR
# A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT OWNER OR
# CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL,
# EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO,
# PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR
# PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF
# LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING
# NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS
# SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
"""python-dotenv's .env grammar with positions, a value writer it reads back exactly, and masking."""

from __future__ import annotations

import codecs
import re

_newline = re.compile(r"(\r\n|\n|\r)")
_multiline_whitespace = re.compile(r"\s*", re.MULTILINE)
_whitespace = re.compile(r"[^\S\r\n]*")
_export = re.compile(r"(?:export[^\S\r\n]+)?")
_single_quoted_key = re.compile(r"'([^']+)'")
_unquoted_key = re.compile(r"([^=\#\s]+)")
_equal_sign = re.compile(r"(=[^\S\r\n]*)")
_single_quoted_value = re.compile(r"'((?:\\'|[^'])*)'")
_double_quoted_value = re.compile(r'"((?:\\"|[^"])*)"')
_unquoted_value = re.compile(r"([^\r\n]*)")
_comment = re.compile(r"(?:[^\S\r\n]*#[^\r\n]*)?")
_end_of_line = re.compile(r"[^\S\r\n]*(?:\r\n|\n|\r|$)")
_rest_of_line = re.compile(r"[^\r\n]*(?:\r|\n|\r\n)?")
# The same on a text whose line endings are untranslated: a CR LF ends the line as one (as
# the LF python-dotenv sees there), so both texts split into the same statements.
_rest_of_raw_line = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)?")
_double_quote_escapes = re.compile(r"\\[\\'\"abfnrtv]")
_single_quote_escapes = re.compile(r"\\[\\']")
_unquoted_comment = re.compile(r"\s+#.*")
# python-dotenv expands ${NAME} and ${NAME:-default} in every value, quoted or not.
_variable = re.compile(r"\$\{[^\}:]*(?::-[^\}]*)?\}")

# Characters a value may hold to be written without quotes: nothing python-dotenv strips,
# ends the value at, or reads as a quote or comment.
_BARE = re.compile(r"[A-Za-z0-9_\-.:/@%+,=~*!?&;^|<>()\[\]{}\\]+")
KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SENSITIVE_WORDS = ("SECRET", "TOKEN", "PASSWORD", "KEY", "PRIVATE")
MASK = "********"


class Binding:
    """One statement as python-dotenv sees it, with offsets into the text.

    key is None for blank lines, comments and statements python-dotenv cannot parse
    (error True). value is None for a key without `=`. value_start/value_end delimit the
    value as written (quotes included); for a key without `=`, both are the key's end.
    """

    __slots__ = ("start", "end", "line", "key", "key_end", "value", "value_start", "value_end", "error")

    def __init__(self, start: int, line: int) -> None:
        self.start = start
        self.end = start
        self.line = line
        self.key: str | None = None
        self.key_end = start
        self.value: str | None = None
        self.value_start = start
        self.value_end = start
        self.error = False

    def text(self, string: str) -> str:
        return string[self.start : self.end]


class _Error(Exception):
    pass


class _Reader:
    def __init__(self, string: str) -> None:
        self.string = string
        self.pos = 0
        self.line = 1

    def has_next(self) -> bool:
        return self.pos < len(self.string)

    def peek(self, count: int) -> str:
        return self.string[self.pos : self.pos + count]

    def read_regex(self, regex: re.Pattern[str]) -> tuple[str | None, ...]:
        match = regex.match(self.string, self.pos)
        if match is None:
            raise _Error()
        self.line += len(_newline.findall(self.string[match.start() : match.end()]))
        self.pos = match.end()
        return match.groups()


def _decode_escapes(regex: re.Pattern[str], string: str) -> str:
    return regex.sub(lambda match: codecs.decode(match.group(0), "unicode-escape"), string)


def _parse_value(reader: _Reader, binding: Binding) -> str:
    char = reader.peek(1)
    binding.value_start = reader.pos
    if char == "'":
        (value,) = reader.read_regex(_single_quoted_value)
        binding.value_end = reader.pos
        return _decode_escapes(_single_quote_escapes, value or "")
    if char == '"':
        (value,) = reader.read_regex(_double_quoted_value)
        binding.value_end = reader.pos
        return _decode_escapes(_double_quote_escapes, value or "")
    if char in ("", "\n", "\r"):
        binding.value_end = reader.pos
        return ""
    (part,) = reader.read_regex(_unquoted_value)
    value = _unquoted_comment.sub("", part or "").rstrip()
    # The value is a prefix of the rest of the line; what follows (spaces, a comment) stays.
    binding.value_end = binding.value_start + len(value)
    return value


def _parse_binding(reader: _Reader, rest_of_line: re.Pattern[str]) -> Binding:
    binding = Binding(reader.pos, reader.line)
    try:
        reader.read_regex(_multiline_whitespace)
        if not reader.has_next():
            binding.end = reader.pos
            return binding
        reader.read_regex(_export)
        char = reader.peek(1)
        key: str | None
        if char == "#":
            key = None
        elif char == "'":
            (key,) = reader.read_regex(_single_quoted_key)
        else:
            (key,) = reader.read_regex(_unquoted_key)
        binding.key_end = reader.pos
        binding.value_start = binding.value_end = reader.pos
        reader.read_regex(_whitespace)
        value: str | None = None
        if reader.peek(1) == "=":
            reader.read_regex(_equal_sign)
            value = _parse_value(reader, binding)
        reader.read_regex(_comment)
        reader.read_regex(_end_of_line)
        binding.key, binding.value = key, value
    except _Error:
        reader.read_regex(rest_of_line)
        binding.key, binding.value, binding.error = None, None, True
    binding.end = reader.pos
    return binding


def _statements(string: str, rest_of_line: re.Pattern[str] = _rest_of_line) -> list[Binding]:
    reader = _Reader(string)
    bindings = []
    while reader.has_next():
        bindings.append(_parse_binding(reader, rest_of_line))
    return bindings


def parse(string: str) -> list[Binding]:
    """Every statement of a .env text (as decoded from UTF-8, line endings untouched): the
    positions in that text, the keys and values as python-dotenv reads them."""
    bindings = _statements(string, _rest_of_raw_line)
    if "\r" in string:
        # python-dotenv reads the file in text mode: CR LF and a lone CR reach it as LF. The
        # grammar treats the three alike between statements, so both texts split the same way;
        # keys and values (a quoted one may span lines) are those of the translated text.
        translated = _statements(string.replace("\r\n", "\n").replace("\r", "\n"))
        if len(translated) != len(bindings):  # not expected; then trust what python-dotenv sees
            raise ValueError("line endings change how the file splits into statements")
        for index, binding in enumerate(bindings):  # (no zip(strict=): hosts may run Python 3.8)
            seen = translated[index]
            binding.key, binding.value, binding.error = seen.key, seen.value, seen.error
    return bindings


def values(string: str) -> dict[str, str | None]:
    """What python-dotenv's dotenv_values(interpolate=False) returns: the last value of each key."""
    return {b.key: b.value for b in parse(string) if b.key is not None}


def newline_of(string: str) -> str:
    match = _newline.search(string)
    return match.group(0) if match else "\n"


def encode(value: str, bare: bool = True) -> str | None:
    """The value written so that python-dotenv reads back exactly `value` (bare when `bare`
    allows and nothing needs quoting, else in single quotes, else in double quotes with
    escapes), or None if no writing does (why_unwritable says why)."""
    if why_unwritable(value):
        return None
    if bare and (_BARE.fullmatch(value) or value == ""):
        return value
    if not any(char in value for char in "'\\\r\n"):
        return "'" + value + "'"
    if value.endswith("\\"):
        # Quoted, a final backslash escapes the closing quote in python-dotenv's grammar.
        return None
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return '"' + escaped + '"'


def why_unwritable(value: str) -> str | None:
    if _variable.search(value):
        return "it holds ${...}, which python-dotenv replaces by another variable's value"
    if "\x00" in value:
        return "it holds a NUL character, which no environment variable can carry"
    if value.endswith("\\") and not _BARE.fullmatch(value):
        return (
            "it ends with a backslash and needs quotes, and python-dotenv reads a quote after a "
            "backslash as part of the value"
        )
    return None


def bare_safe_after(rest: str, value: str = "x") -> bool:
    """Whether `value` may be written unquoted when `rest` (the remainder of the line) follows
    and still end where it should: nothing or whitespace (before a comment) after a value, only
    the end of the line after an empty one (`KEY= # c` would read "# c")."""
    if value == "":
        return re.fullmatch(r"[^\S\r\n]*(?:\r\n|\n|\r)?", rest) is not None
    return rest == "" or rest[0] in " \t\r\n\x0b\x0c"


def is_sensitive(key: str) -> bool:
    upper = key.upper()
    return any(word in upper for word in SENSITIVE_WORDS)


# A password may hold anything (even an unencoded @ or #): mask up to the last @ of the word.
_url_userinfo = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://)([^\s/@:]*)(:\S*)?@")
_query_secret = re.compile(r"(?i)([?&;](?:[^=&\s]*(?:pass|pwd|secret|token|key)[^=&\s]*)=)[^&#\s]*")


def mask_urls(value: str) -> str:
    """A URL's password (user:password@), or a lone user part that may be a token, masked."""

    def hide(match: re.Match[str]) -> str:
        if match.group(3):
            return match.group(1) + match.group(2) + ":" + MASK + "@"
        return match.group(1) + MASK + "@"

    value = _url_userinfo.sub(hide, value)
    return _query_secret.sub(lambda match: match.group(1) + MASK, value)


# python-dotenv's variable expansion (dotenv/variables.py and resolve_variables in dotenv/main.py):
# only ${NAME} and ${NAME:-default}; with override (what `dotenv run --override` and
# dotenv_values() use) a value set earlier in the file wins over the environment.
_posix_variable = re.compile(r"\$\{(?P<name>[^\}:]*)(?::-(?P<default>[^\}]*))?\}")


def _expand(value: str, env: dict[str, str | None]) -> str:
    def one(match: re.Match[str]) -> str:
        default = match.group("default")
        result = env.get(match.group("name"), default if default is not None else "")
        return result if result is not None else ""

    return _posix_variable.sub(one, value)


def environment(string: str, environ: dict[str, str]) -> dict[str, str]:
    """What `python -m dotenv --file F run --override` adds to the command's environment: each
    key's value as python-dotenv reads it, ${...} expanded over the environment and the keys
    before it (the file's wins), keys without a value left out."""
    resolved: dict[str, str | None] = {}
    for binding in parse(string):
        if binding.key is None:
            continue
        if binding.value is None:
            resolved[binding.key] = None
            continue
        env: dict[str, str | None] = dict(environ)
        env.update(resolved)
        resolved[binding.key] = _expand(binding.value, env)
    return {key: value for key, value in resolved.items() if value is not None}
