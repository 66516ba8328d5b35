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
from functools import cache
from pathlib import Path
from typing import Any

from credits_cli.errors import InvalidInput

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

    ``what`` names the kind of file in messages ("rate table"); ``label`` names the file
    (its path by default).
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    if not path.is_file():
        raise InvalidInput(f"{path} is not a file")
    if size > max_bytes:
        raise InvalidInput(f"{path}: {size:,} bytes is too large for a {what} (at most {max_bytes:,})")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not UTF-8 text") from None
    return load(text, label or str(path), what=what), text


def load(text: str, label: str, *, what: str) -> Any:
    """The document in ``text`` as dicts, lists, text, numbers, booleans and None.

    Raises :class:`InvalidInput` naming ``label`` and the line for anything the module
    docstring refuses, and for YAML that does not parse.
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

    def refuse(event: Any, problem: str) -> InvalidInput:
        return InvalidInput(f"{label}: line {event.start_mark.line + 1}: {problem}")

    def invalid(event: Any, problem: str) -> InvalidInput:
        return InvalidInput(f"{label}: not a valid {what}: line {event.start_mark.line + 1}: {problem}")

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
                    raise invalid(event, f"the tag {_short(tag)} is not allowed")
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                if event.tag is not None and event.tag not in (_MAP_TAGS if kind is MappingStartEvent else _SEQ_TAGS):
                    raise invalid(event, f"the tag {_short(event.tag)} is not allowed")
                if kind is MappingStartEvent:
                    stack.append([{}, True, _NO_KEY, {}])
                else:
                    stack.append([[], False])
                continue
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                value = stack.pop()[0]
            elif kind is AliasEvent:
                raise invalid(event, f"aliases (*{event.anchor}) are not allowed")
            elif kind is DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise invalid(event, "a second document (---); a file holds one")
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
                    raise refuse(event, "a key must be text or a number, not a list or a mapping")
                lines = frame[3]
                if value in lines:
                    shown = repr(value) if isinstance(value, str) else event.value
                    raise refuse(event, f"duplicate key {shown} (first on line {lines[value]})")
                lines[value] = event.start_mark.line + 1
                frame[2] = value
            else:
                frame[0][frame[2]] = value
                frame[2] = _NO_KEY
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}: " if mark is not None else ""
        context_mark = exc.context_mark
        context = f" ({exc.context} on line {context_mark.line + 1})" if exc.context and context_mark else ""
        problem = exc.problem or "not YAML"
        raise InvalidInput(f"{label}: not a valid {what}: {where}{problem}{context}") from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{label}: not a valid {what}: {' '.join(str(exc).split())}") from None
    return root


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
        hint = f"write {value_12} for the number, or put it in quotes if it is text"
        if text.startswith("0x"):
            return f"unquoted {text} is the hexadecimal number {value_12}; {hint}"
        reading_11 = _reading_11(text, tag_11)
        if reading_11 == _describe(value_12):
            return f"unquoted {text} has a leading zero; {hint}"
    elif text in _BOOLS_11:
        reading_11 = f"the boolean {str(_BOOLS_11[text]).lower()}"
        hint = "write true or false, or put it in quotes if it is text"
    else:
        reading_11 = _reading_11(text, tag_11)
        hint = "put it in quotes if it is text"
        if tag_11.endswith((":int", ":float")) or type(value_12) in (int, float):
            hint = "write a plain decimal number, or put it in quotes if it is text"
    return f"unquoted {text} is {reading_11} in YAML 1.1 and {_describe(value_12)} in YAML 1.2; {hint}"


def _reading_11(text: str, tag_11: str) -> str:
    kind = tag_11.rsplit(":", 1)[-1]
    if kind == "merge":
        return "a merge key"
    if kind == "value":
        return "a value key"
    import yaml

    try:
        return _describe(yaml.load(text, Loader=yaml.SafeLoader))  # noqa: S506 - a safe loader, one scalar
    except (yaml.YAMLError, ValueError):  # ValueError: what 1.1 resolves as a number but cannot read (0b_)
        return f"a {kind}"


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return "text"
    return f"the {type(value).__name__} {value}"  # dates and times


def _short(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!", 1)


__all__ = ["load", "read"]
