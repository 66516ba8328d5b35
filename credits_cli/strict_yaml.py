"""The YAML of our data files (rate tables, SPEC §4, and ``rates/service.yaml``), read strictly.

PyYAML implements YAML 1.1, where a hand-written file can mean something its
author did not: an unquoted ``prefix: 0044`` is the octal number 36 (Hungary's
calling code, not the UK's), ``1:20`` is 80 (base 60), ``yes``/``no``/``on``/
``off`` are booleans (so Norway's code ``NO`` becomes ``false``), ``2026-01-01``
is a date, and a repeated key silently replaces the first. YAML 1.2 reads most
of these as text or as decimal numbers.

The rule here: **a document is read only where YAML 1.1 and YAML 1.2 agree.**
An unquoted scalar is read by the YAML 1.2 core schema:

- null: nothing, ``~``, ``null``, ``Null``, ``NULL``
- booleans: ``true``, ``True``, ``TRUE``, ``false``, ``False``, ``FALSE``
- whole numbers in decimal without leading zeros: ``44``, ``-1``, ``0``
- numbers with a decimal point (and a signed exponent, if any): ``0.5``,
  ``1.5e+3``, ``.inf``, ``.nan`` (money fields then refuse them as floats:
  prices are quoted)
- text: everything else

and refused, naming the line, when YAML 1.1 would read it differently, or when
it is a number in another base than ten:

- leading zeros, ``0044`` (1.1: octal 36; 1.2: 44), ``00``. So a prefix 0044
  never becomes 36: written ``"0044"`` it is text, which the rate table then
  refuses as "starts with 0; E.164 starts with a country code". Plain ``44``
  stays a number, which a table accepts as a prefix.
- other bases, ``0x31``, ``0o17``, ``0b101`` (``0x31`` is 49 in both versions,
  Germany's code: no number in these files is written in another base)
- base 60, ``1:20``; digit separators, ``1_000``
- the YAML 1.1 booleans ``yes``, ``no``, ``on``, ``off``, ``y``, ``n`` (in
  the capitalisations 1.1 knows): text in 1.2
- numbers only one version has: ``1e3`` (1.2), ``1:20.5`` (1.1)
- dates ``2026-01-01``, the merge key ``<<`` and the value key ``=`` (1.1 only)

Quoted and block scalars are text in both versions, as are scalars tagged
``!!str``. Other tags are refused (``!!python/...``, ``!!int``, ``!!set``,
``!``...; ``!!map`` and ``!!seq`` on their own kinds aside), as are aliases
(``*name``: how a small file expands into gigabytes, "billion laughs"), more
than one document in a file, and a key repeated in the same mapping at any
depth::

    rates/x.yaml: line 12: duplicate key 'prefix' (first on line 11)
    rates/x.yaml: line 7: unquoted 0044 is the number 36 in YAML 1.1 and the number 44 in YAML 1.2; ...

The document is built directly from the parser's events (libyaml's when PyYAML
has it): there is no node graph to expand and no constructor to call, so the
strict reading costs no more than PyYAML's own C loader.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from credits_cli import i18n
from credits_cli.errors import InvalidInput
from credits_cli.i18n import _, ngettext

_NULLS = frozenset({"~", "null", "Null", "NULL"})
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
#: YAML 1.1's booleans (the spec's list; PyYAML leaves out y/Y/n/N, other 1.1 readers do not)
_BOOLS_11 = {
    **{w: True for w in ("y", "Y", "yes", "Yes", "YES", "on", "On", "ON")},
    **{w: False for w in ("n", "N", "no", "No", "NO", "off", "Off", "OFF")},
}
# The YAML 1.2 core schema (spec 1.2.2, 10.3.2)
_INT_12 = re.compile(r"[-+]?[0-9]+")
_OCT_12 = re.compile(r"0o[0-7]+")
_HEX_12 = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT_12 = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_INF_12 = re.compile(r"([-+]?)\.(?:inf|Inf|INF)")
_NAN_12 = re.compile(r"\.(?:nan|NaN|NAN)")
#: The first characters of every scalar that some version reads as other than text.
_MAYBE_NOT_TEXT = frozenset("0123456789+-.~nNtTfFyYoO<=")

_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAGS = frozenset({"tag:yaml.org,2002:map"})
_SEQ_TAGS = frozenset({"tag:yaml.org,2002:seq"})
_TAG_OF_TYPE = {
    type(None): "tag:yaml.org,2002:null",
    bool: "tag:yaml.org,2002:bool",
    int: "tag:yaml.org,2002:int",
    float: "tag:yaml.org,2002:float",
    str: _STR_TAG,
}
_NO_KEY = object()


class _Refused(Exception):
    """A scalar that the two YAML versions read differently (the line is added by the caller)."""


def read(path: Path, *, what: str, max_bytes: int, label: str | None = None) -> tuple[Any, str]:
    """Read ``path`` (at most ``max_bytes``, UTF-8) and parse it strictly. Returns (data, text).

    ``what`` names the kind of file in messages (``N_("rate table")``, translated here); ``label``
    names the file (its path by default).
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidInput(_cannot_read(path, exc)) from None
    if not path.is_file():
        # TRANSLATORS: {path} is a file's path.
        raise InvalidInput(_("{path} is not a file").format(path=path))
    if size > max_bytes:
        # TRANSLATORS: {path} is a file's path; {size} its size in bytes; {what} the kind of file ("rate
        # table", "service data file"); {limit} the largest size accepted, in bytes.
        raise InvalidInput(ngettext("{path}: {size} byte is too large for a {what} (at most {limit})",
                                    "{path}: {size} bytes is too large for a {what} (at most {limit})", size).format(
            path=path, size=i18n.number(size), what=_(what), limit=i18n.number(max_bytes)))
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InvalidInput(_cannot_read(path, exc)) from None
    except UnicodeDecodeError:
        # TRANSLATORS: {path} is a file's path.
        raise InvalidInput(_("{path}: not UTF-8 text").format(path=path)) from None
    return load(text, label or str(path), what=what), text


def _cannot_read(path: Path, exc: OSError) -> str:
    # TRANSLATORS: {path} is a file's path; {reason} what the system said (No such file or directory).
    return _("cannot read {path}: {reason}").format(path=path, reason=exc.strerror)


def load(text: str, label: str, *, what: str) -> Any:
    """The document in ``text`` as dicts, lists, text, numbers, booleans and None.

    Raises :class:`InvalidInput` naming ``label`` and the line for anything the module
    docstring refuses, and for YAML that does not parse. ``what`` as for :func:`read`.
    """
    import yaml
    from yaml.events import (
        AliasEvent,
        DocumentStartEvent,
        MappingEndEvent,
        MappingStartEvent,
        ScalarEvent,
        SequenceEndEvent,
        SequenceStartEvent,
    )

    kind_of_file = _(what)

    def refuse(event: Any, problem: str) -> InvalidInput:
        # TRANSLATORS: {label} is a file's path; {line} a line number; {problem} what is wrong there.
        return InvalidInput(_("{label}: line {line}: {problem}").format(
            label=label, line=event.start_mark.line + 1, problem=problem))

    def invalid(event: Any, problem: str) -> InvalidInput:
        return InvalidInput(_not_valid_at(label, kind_of_file, event.start_mark.line + 1, problem))

    # A frame is [container, is_mapping, pending key, {key: line}] for each open collection.
    stack: list[list[Any]] = []
    root: Any = None
    documents = 0
    events: Iterator[Any] = yaml.parse(text, Loader=_parser())  # the parser's events, one at a time
    try:
        for event in events:
            kind = event.__class__
            if kind is ScalarEvent:
                tag = event.tag
                if tag is None and event.implicit[0]:
                    try:
                        value = _plain(event.value)
                    except _Refused as exc:
                        raise refuse(event, str(exc)) from None
                elif tag is None or tag == _STR_TAG:
                    value = event.value
                else:
                    raise invalid(event, _tag_refused(tag))
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                if event.tag is not None and event.tag not in (_MAP_TAGS if kind is MappingStartEvent else _SEQ_TAGS):
                    raise invalid(event, _tag_refused(event.tag))
                if kind is MappingStartEvent:
                    stack.append([{}, True, _NO_KEY, {}])
                else:
                    stack.append([[], False])
                continue
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                value = stack.pop()[0]
            elif kind is AliasEvent:
                # TRANSLATORS: {alias} is a YAML alias as written (*name): keep it.
                raise invalid(event, _("aliases ({alias}) are not allowed").format(alias=f"*{event.anchor}"))
            elif kind is DocumentStartEvent:
                documents += 1
                if documents > 1:
                    # TRANSLATORS: --- is how YAML starts a document: keep it.
                    raise invalid(event, _("a second document (---); a file holds one"))
                continue
            else:  # stream start and end, document end
                continue
            if not stack:
                root = value
                continue
            frame = stack[-1]
            if not frame[1]:
                frame[0].append(value)
            elif frame[2] is _NO_KEY:
                if isinstance(value, dict | list):
                    raise refuse(event, _("a key must be text or a number, not a list or a mapping"))
                lines = frame[3]
                if value in lines:
                    shown = repr(value) if isinstance(value, str) else event.value
                    # TRANSLATORS: {key} is a key of the file as written; {line} a line number.
                    raise refuse(event, _("duplicate key {key} (first on line {line})").format(
                        key=shown, line=lines[value]))
                lines[value] = event.start_mark.line + 1
                frame[2] = value
            else:
                frame[0][frame[2]] = value
                frame[2] = _NO_KEY
    except yaml.MarkedYAMLError as exc:  # the problem and its context are PyYAML's own words (English)
        mark = exc.problem_mark or exc.context_mark
        context_mark = exc.context_mark
        # TRANSLATORS: what is wrong with a file that does not parse as YAML, when the parser says no more.
        problem = exc.problem or _("not YAML")
        if mark is None:
            raise InvalidInput(_not_valid(label, kind_of_file, problem)) from None
        if exc.context and context_mark:
            raise InvalidInput(
                # TRANSLATORS: {label} is a file's path; {what} the kind of file ("rate table"); {line} and
                # {context_line} line numbers; {problem} and {context} PyYAML's words, in English (found
                # character '\t' that cannot start any token; while scanning a plain scalar).
                _("{label}: not a valid {what}: line {line}: {problem} ({context} on line {context_line})").format(
                    label=label, what=kind_of_file, line=mark.line + 1, problem=problem, context=exc.context,
                    context_line=context_mark.line + 1)
            ) from None
        raise InvalidInput(_not_valid_at(label, kind_of_file, mark.line + 1, problem)) from None
    except yaml.YAMLError as exc:
        raise InvalidInput(_not_valid(label, kind_of_file, " ".join(str(exc).split()))) from None
    return root


def _not_valid(label: str, what: str, problem: str) -> str:
    # TRANSLATORS: {label} is a file's path; {what} the kind of file ("rate table", "service data file");
    # {problem} what is wrong (PyYAML's words, in English).
    return _("{label}: not a valid {what}: {problem}").format(label=label, what=what, problem=problem)


def _not_valid_at(label: str, what: str, line: int, problem: str) -> str:
    # TRANSLATORS: {label} is a file's path; {what} the kind of file ("rate table", "service data file");
    # {line} a line number; {problem} what is wrong there.
    return _("{label}: not a valid {what}: line {line}: {problem}").format(
        label=label, what=what, line=line, problem=problem)


def _tag_refused(tag: str) -> str:
    # TRANSLATORS: {tag} is a YAML tag as written (!!python/object): keep it.
    return _("the tag {tag} is not allowed").format(tag=_short(tag))


@cache
def _parser() -> type:
    """libyaml's parser when PyYAML was built with it (~10 times faster), else PyYAML's own.

    Only the parser is used (events); a loader class is how PyYAML hands it out.
    """
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def _tag_11() -> Callable[[str], str]:
    """The tag PyYAML's YAML 1.1 resolver gives an unquoted scalar (``tag:yaml.org,2002:int``...)."""
    from yaml.nodes import ScalarNode
    from yaml.resolver import Resolver

    resolve = Resolver().resolve
    return lambda text: resolve(ScalarNode, text, (True, False))


def _plain(text: str) -> Any:
    """An unquoted scalar by the YAML 1.2 core schema; :class:`_Refused` where YAML 1.1 disagrees."""
    if not text:
        return None
    if text[0] not in _MAYBE_NOT_TEXT:
        return text  # no version reads it as anything but text
    value = _core_12(text)
    tag_11 = _tag_11()(text)
    if tag_11 == _TAG_OF_TYPE[type(value)] and text not in _BOOLS_11:
        if type(value) is not int or not _other_notation(text):
            return value
    raise _Refused(_why(text, value, tag_11))


def _core_12(text: str) -> Any:
    """``text`` as the YAML 1.2 core schema reads an unquoted scalar."""
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if _INT_12.fullmatch(text):
        return int(text)
    if _OCT_12.fullmatch(text):
        return int(text[2:], 8)
    if _HEX_12.fullmatch(text):
        return int(text[2:], 16)
    if _FLOAT_12.fullmatch(text):
        return float(text)
    inf = _INF_12.fullmatch(text)
    if inf:
        return float(f"{inf.group(1)}inf")
    if _NAN_12.fullmatch(text):
        return float("nan")
    return text


def _other_notation(text: str) -> bool:
    """A whole number with a leading zero or a base prefix: 0044, 00, 0x31, 0o17."""
    digits = text.lstrip("+-")
    return len(digits) > 1 and digits[0] == "0"


def _why(text: str, value_12: Any, tag_11: str) -> str:
    """The one-line reason an unquoted scalar is refused, and what to write instead."""
    if type(value_12) is int and _other_notation(text):
        # TRANSLATORS: advice at the end of a message about an unquoted value; {number} is a number (44).
        hint = _("write {number} for the number, or put it in quotes if it is text").format(number=value_12)
        if text.startswith("0x"):
            # TRANSLATORS: {text} is a value as written in the file (0x31); {number} the number YAML reads
            # (49); {hint} advice on what to write instead.
            return _("unquoted {text} is the hexadecimal number {number}; {hint}").format(
                text=text, number=value_12, hint=hint)
        reading_11 = _reading_11(text, tag_11)
        if reading_11 == _describe(value_12):
            # TRANSLATORS: {text} is a value as written in the file (007); {hint} advice on what to write instead.
            return _("unquoted {text} has a leading zero; {hint}").format(text=text, hint=hint)
    elif text in _BOOLS_11:
        reading_11 = _boolean(_BOOLS_11[text])
        # TRANSLATORS: advice at the end of a message about an unquoted value; true and false are YAML's
        # words: keep them.
        hint = _("write true or false, or put it in quotes if it is text")
    else:
        reading_11 = _reading_11(text, tag_11)
        # TRANSLATORS: advice at the end of a message about an unquoted value.
        hint = _("put it in quotes if it is text")
        if tag_11.endswith((":int", ":float")) or type(value_12) in (int, float):
            # TRANSLATORS: advice at the end of a message about an unquoted value: a decimal is written with a
            # dot in the file, whatever the language.
            hint = _("write a plain decimal number, or put it in quotes if it is text")
    # TRANSLATORS: {text} is a value as written in the file (0044, yes, 1:20); {reading_11} and
    # {reading_12} what each version of YAML reads it as ("the number 36", "the boolean true", "text");
    # {hint} advice on what to write instead.
    return _("unquoted {text} is {reading_11} in YAML 1.1 and {reading_12} in YAML 1.2; {hint}").format(
        text=text, reading_11=reading_11, reading_12=_describe(value_12), hint=hint)


def _reading_11(text: str, tag_11: str) -> str:
    kind = tag_11.rsplit(":", 1)[-1]
    if kind == "merge":
        # TRANSLATORS: what YAML 1.1 reads "<<" as (a YAML term): shown inside "unquoted ... is {reading_11} in
        # YAML 1.1 and ... in YAML 1.2".
        return _("a merge key")
    if kind == "value":
        # TRANSLATORS: what YAML 1.1 reads "=" as (a YAML term): shown inside "unquoted ... is {reading_11} in
        # YAML 1.1 and ... in YAML 1.2".
        return _("a value key")
    import yaml

    try:
        return _describe(yaml.load(text, Loader=yaml.SafeLoader))  # noqa: S506 - a safe loader, one scalar
    except (yaml.YAMLError, ValueError):  # ValueError: what 1.1 resolves as a number but cannot read (0b_)
        # TRANSLATORS: what YAML 1.1 reads a value as, when it cannot say more; {kind} is a YAML type (int,
        # float, timestamp): keep it.
        return _("a {kind}").format(kind=kind)


# What a value is, for "unquoted ... is {reading_11} in YAML 1.1 and {reading_12} in YAML 1.2".
def _describe(value: Any) -> str:
    if value is None:
        # TRANSLATORS: YAML's null (no value), as in "unquoted ~ is null in YAML 1.1 and ...".
        return _("null")
    if isinstance(value, bool):
        return _boolean(value)
    if isinstance(value, int | float):
        # TRANSLATORS: {number} is a number as YAML reads it (36, 1000.0), as in "unquoted 0044 is the number 36
        # in YAML 1.1".
        return _("the number {number}").format(number=value)
    if isinstance(value, str):
        # TRANSLATORS: what YAML reads a value as, as in "unquoted 1e3 is text in YAML 1.1".
        return _("text")
    if type(value) is date:
        # TRANSLATORS: {value} is a date as YAML 1.1 reads it (2026-01-01), as in "unquoted 2026-01-01 is the
        # date 2026-01-01 in YAML 1.1".
        return _("the date {value}").format(value=value)
    if type(value) is datetime:
        # TRANSLATORS: {value} is a date and time as YAML 1.1 reads it (2026-01-01 10:00:00).
        return _("the datetime {value}").format(value=value)
    return f"the {type(value).__name__} {value}"  # no other type comes from a plain scalar


def _boolean(value: bool) -> str:
    # TRANSLATORS: {value} is true or false (YAML's words: keep them), as in "unquoted yes is the boolean true
    # in YAML 1.1".
    return _("the boolean {value}").format(value=str(value).lower())


def _short(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!", 1)


__all__ = ["load", "read"]
