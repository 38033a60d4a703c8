"""Faster stand-ins for Radicale helpers that dominate large answers.

A Depth 1 PROPFIND or a multiget of 10,000 cards calls Radicale's path
helpers about seven times per card, mostly from ``assert`` statements
(``strip_path`` and ``unstrip_path`` re-sanitise what they are given), and
``make_clark`` twenty times per card; the answer is then serialised through
an encoding text wrapper that resets its codec on each of ~250,000 small
writes.  Together that was more than half of such a request.

The replacements return exactly what Radicale's own functions return (the
contract tests compare answers with stock Radicale), installed once per
process like :mod:`kmdav.faces.davreports`:

- ``pathutils.sanitize_path``: the same normalisation without building the
  path one ``posixpath.join`` at a time, and memoised;
- ``xmlutils.make_clark``: memoised (a pure function of a short tag);
- ``ApplicationBase._xml_response``: serialises to text, then encodes once;
  the bytes are identical for UTF-8, the only encoding kmdav configures.
  The text comes from ``serialize``, which writes what ElementTree writes
  but resolves each element name once per process (ElementTree's writer
  walks the tree twice and qualifies every name again: a quarter of a
  10,000-card PROPFIND); trees with unregistered namespaces still go
  through ElementTree;
- the gzip Radicale applies to every answer when the client accepts it runs
  at zlib level 1 instead of 6: a 10,000-card initial sync (PROPFIND and
  100 multigets, ~10 MB of XML) spent ~0.3 s compressing at level 6 and
  ~0.1 s at level 1, for ~15 % more bytes on the wire.  The content is the
  same; only the compressed encoding of it differs;
- ``Item.prepare`` of the object a PUT carries: when the body is that one
  object (same UID, ``state.received_uid``), the body is the item's text,
  so vobject does not serialise the tree it has just parsed (about an
  eighth of a card PUT).  The storage keeps exactly that body anyway
  (``storage/upload.py``); Radicale's serialisation was only ever used for
  the size check and an ETag the storage replaces with its own;
- ``ApplicationBase._read_xml_request_body``: the tree ``DavGuard`` built
  while checking the body (no DTD, bounded nesting) instead of decoding and
  parsing the same text a second time with defusedxml's pure-Python parser;
- vobject's ``getLogicalLines`` in the mode Radicale parses every PUT with
  (``allowQP=True``, quoted-printable vCard 2.1 continuations): vobject
  copies the whole logical line after each physical line it appends, which
  is quadratic in the folds of one property.  A card with a 5 MB photo
  (70,000 folded lines) took 11.5 s to parse, holding the PUT that long;
  ``logical_lines`` yields the same lines and numbers in 0.05 s.

``serialize`` also copies ``Written`` elements as they are: the per-item
responses :mod:`kmdav.faces.davitems` writes as text.  A tree holding them
that goes to ElementTree after all gets them rebuilt first (``materialize``).
"""

from __future__ import annotations

import io
import logging
import posixpath
import types
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

import radicale.app
import vobject.base
from radicale import item as radicale_item
from radicale import pathutils, xmlutils
from radicale.app import base as radicale_base
from radicale.log import logger as radicale_logger

from kmdav.dav.context import state

#: Distinct paths remembered; a card's path is asked for several times in a
#: row while its response is built, so a small cache catches those repeats.
PATH_CACHE = 4096
TAG_CACHE = 512
#: zlib level for gzip-encoded answers (1: fastest; zlib's default is 6).
GZIP_LEVEL = 1


#: Radicale's own functions, as they were before ``install`` (tests compare).
radicale_sanitize_path = pathutils.sanitize_path
radicale_xml_response = radicale_base.ApplicationBase._xml_response
radicale_item_prepare = radicale_item.Item.prepare
radicale_read_xml = radicale_base.ApplicationBase._read_xml_request_body
vobject_logical_lines = vobject.base.getLogicalLines


def sanitize_path(path: str) -> str:
    """Radicale's ``sanitize_path``: absolute, normalised, no ``.``/``..``
    segments, and a trailing slash kept when the input had one."""
    if path[:1] == "/" and "//" not in path and "/." not in path:
        # Already clean: no empty, "." or ".." segment to drop.
        return path
    trailing = path.endswith("/")
    parts = [p for p in posixpath.normpath(path).split("/") if p and p not in (".", "..")]
    sanitized = "/" + "/".join(parts)
    if trailing and parts:
        sanitized += "/"
    return sanitized


class Written(ET.Element):
    """An element whose XML text is already written.

    ``xml`` is exactly what ElementTree writes for the element ``rebuild()``
    returns (without a tail), ``namespaces`` the ``{uri: prefix}`` that text
    uses, for the declarations on the root.
    """

    __slots__ = ("namespaces", "rebuild", "xml")

    xml: str
    namespaces: dict[str, str]
    rebuild: Callable[[], ET.Element]


def written(
    tag: str, xml: str, namespaces: dict[str, str], rebuild: Callable[[], ET.Element]
) -> Written:
    element = Written(tag)
    element.xml = xml
    element.namespaces = namespaces
    element.rebuild = rebuild
    return element


def materialize(root: ET.Element) -> ET.Element:
    """``root`` with every ``Written`` element below it rebuilt as elements
    (for ElementTree, which knows nothing of them)."""
    for index, child in enumerate(root):
        if type(child) is Written:
            rebuilt = child.rebuild()
            rebuilt.tail = child.tail
            root[index] = rebuilt
        else:
            materialize(child)
    return root


def _xml_response(self: Any, xml_content: ET.Element, request_info: dict[str, Any]) -> bytes:
    encoding = self._encoding
    if (
        encoding.lower().replace("-", "") != "utf8"
        or self._response_content_on_notice_condition
        or radicale_logger.isEnabledFor(logging.DEBUG)
    ):
        # Radicale may log the answer: let it do so its own way.
        return radicale_xml_response(self, materialize(xml_content), request_info)
    try:
        body = serialize(xml_content)
    except _Unsupported:
        buffer = io.StringIO()
        ET.ElementTree(materialize(xml_content)).write(buffer, encoding="unicode")
        body = buffer.getvalue()
    # What ElementTree writes first for a byte encoding with a declaration.
    return f"<?xml version='1.0' encoding='{encoding}'?>\n{body}".encode()


class _Unsupported(Exception):
    """A tree ``serialize`` leaves to ElementTree (a namespace no one
    registered, a comment, a QName object)."""


_escape_cdata: Callable[[str], str] = ET._escape_cdata  # type: ignore[attr-defined]
_escape_attrib: Callable[[str], str] = ET._escape_attrib  # type: ignore[attr-defined]
#: How ElementTree escapes element text (``&``, ``<``, ``>``).
escape_text = _escape_cdata
_namespace_map: dict[str, str] = ET._namespace_map  # type: ignore[attr-defined]
#: Tag -> (qualified name, namespace URI to declare or None, its prefix).
_QNAMES: dict[str, tuple[str, str | None, str]] = {}


def qualify(tag: Any) -> tuple[str, str | None, str]:
    """(the name ElementTree writes for ``tag``, the namespace URI it
    declares for it or None, that namespace's prefix)."""
    if not isinstance(tag, str):
        raise _Unsupported
    found = _QNAMES.get(tag)
    if found is None:
        if tag[:1] == "{":
            uri, local = tag[1:].rsplit("}", 1)
            prefix = _namespace_map.get(uri)
            if prefix is None:  # ElementTree would invent ns0, ns1, ... in order
                raise _Unsupported
            qualified = f"{prefix}:{local}" if prefix else local
            found = (qualified, None if prefix == "xml" else uri, prefix)
        else:
            found = (tag, None, "")
        if len(_QNAMES) < TAG_CACHE:
            _QNAMES[tag] = found
    return found


def _qname(tag: Any, used: dict[str, str]) -> str:
    found = qualify(tag)
    if found[1] is not None:
        used[found[1]] = found[2]
    return found[0]


def serialize(root: ET.Element) -> str:
    """What ``ElementTree.write(..., encoding="unicode")`` writes for a tree
    whose namespaces are all registered (Radicale registers DAV's), with
    element names resolved once per process instead of once per element.

    Raises ``_Unsupported`` for anything else; the caller then lets
    ElementTree write it."""
    out: list[str] = []
    used: dict[str, str] = {}

    def attributes(element: ET.Element) -> str:
        items = element.items()
        if not items:
            return ""
        written = []
        for key, value in items:
            if not isinstance(value, str):
                raise _Unsupported
            written.append(f' {_qname(key, used)}="{_escape_attrib(value)}"')
        return "".join(written)

    def emit(element: ET.Element) -> None:
        if type(element) is Written:
            out.append(element.xml)
            used.update(element.namespaces)
            if element.tail:
                out.append(_escape_cdata(element.tail))
            return
        name = _qname(element.tag, used)
        text = element.text
        if text or len(element):
            out.append(f"<{name}{attributes(element)}>")
            if text:
                out.append(_escape_cdata(text))
            for child in element:
                emit(child)
            out.append(f"</{name}>")
        else:
            out.append(f"<{name}{attributes(element)} />")
        if element.tail:
            out.append(_escape_cdata(element.tail))

    # The root carries the namespace declarations, known only at the end.
    name = _qname(root.tag, used)
    own = attributes(root)
    out.append("")
    text = root.text
    if text or len(root):
        if text:
            out.append(_escape_cdata(text))
        for child in root:
            emit(child)
        out.append(f"</{name}>")
        close = ">"
    else:
        close = " />"
    if root.tail:
        out.append(_escape_cdata(root.tail))
    declared = "".join(
        f' xmlns{":" + prefix if prefix else ""}="{_escape_attrib(uri)}"'
        for uri, prefix in sorted(used.items(), key=lambda pair: pair[1])
    )
    out[0] = f"<{name}{declared}{own}{close}"
    return "".join(out)


def _prepare(self: Any) -> None:
    """Radicale's ``Item.prepare``, taking the PUT body as the text of the
    object it carries instead of serialising the parsed tree again."""
    if self._text is None and state.put_body is not None:
        uid = state.received_uid()
        if uid is not None and uid == self.uid:
            self._text = state.put_body[1]
    radicale_item_prepare(self)


def _read_xml_request_body(
    self: Any, environ: dict[str, Any], request_info: dict[str, Any]
) -> ET.Element | None:
    """Radicale's, handing over the tree the guard parsed from this body."""
    tree = state.xml_request
    if tree is None or radicale_logger.isEnabledFor(logging.DEBUG):
        return radicale_read_xml(self, environ, request_info)
    state.xml_request = None
    return tree  # type: ignore[no-any-return]


_QP_MARK = "quoted-printable"


def logical_lines(fp: Any, allowQP: bool = True) -> Iterator[tuple[str, int]]:
    """vobject's ``getLogicalLines`` without its quadratic step: the same
    (logical line, number of its first physical line) pairs, vobject's
    quirks included (the first line is numbered 0; a blank line resets the
    start).  A line whose text so far mentions quoted-printable (in any
    case, also across folds) and ends with ``=`` continues on the next
    physical line after a newline, whatever that line starts with.  Only
    the mark is searched for incrementally, in the new piece and the
    characters before it; the logical line is joined once, when yielded.
    """
    if not allowQP:  # vobject's other mode is a linear regex scan already
        yield from vobject_logical_lines(fp, allowQP)
        return
    parts: list[str] = []
    tail = ""  # the last characters of the logical line, for a mark split by a fold
    marked = quoted = False
    number = start = 0
    while True:
        line = fp.readline()
        if line == "":
            break
        line = line.rstrip("\r\n")
        number += 1
        if line.rstrip() == "":
            if parts:
                yield "".join(parts), start
            start = number
            parts, tail, marked, quoted = [], "", False, False
            continue
        if quoted:
            piece = "\n" + line
        elif line[0] in " \t":
            piece = line[1:]
        else:
            if parts:
                yield "".join(parts), start
                start = number
            parts, tail, marked = [], "", False
            piece = line
        parts.append(piece)
        if not marked:
            # ``lower`` maps character by character, so a match in the
            # lowered line spans at most len(_QP_MARK) original characters.
            window = tail + piece
            marked = _QP_MARK in window.lower()
            tail = window[-len(_QP_MARK) :]
        quoted = marked and piece[-1] == "="
    if parts:
        yield "".join(parts), start


class _ElementTreeForRadicale(types.ModuleType):
    """``xml.etree.ElementTree`` as Radicale's ``xmlutils`` sees it, with
    ``tostring`` to text through ``serialize``.  Radicale pretty-prints every
    XML request into its log line that way (``pretty_xml``)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(ET, name)

    @staticmethod
    def tostring(element: ET.Element, encoding: str | None = None, **options: Any) -> Any:
        if encoding == "unicode" and not options:
            try:
                return serialize(element)
            except _Unsupported:
                pass
        return ET.tostring(element, encoding, **options)


def _compressobj(level: int = GZIP_LEVEL, *args: Any, **kwargs: Any) -> Any:
    return zlib.compressobj(level, *args, **kwargs)


#: What Radicale's application module sees as ``zlib``: the real module's
#: constants, with a compressor that defaults to ``GZIP_LEVEL``.
_radicale_zlib = types.SimpleNamespace(MAX_WBITS=zlib.MAX_WBITS, compressobj=_compressobj)


def install() -> None:
    """Put the faster helpers in place (once per process)."""
    if getattr(pathutils.sanitize_path, "kmdav_fast", False):
        return
    fast_sanitize: Any = lru_cache(maxsize=PATH_CACHE)(sanitize_path)
    fast_sanitize.kmdav_fast = True
    pathutils.sanitize_path = fast_sanitize
    xmlutils.make_clark = lru_cache(maxsize=TAG_CACHE)(xmlutils.make_clark)
    radicale_base.ApplicationBase._xml_response = _xml_response  # type: ignore[method-assign]
    radicale_base.ApplicationBase._read_xml_request_body = _read_xml_request_body  # type: ignore[method-assign,assignment]
    radicale_item.Item.prepare = _prepare  # type: ignore[method-assign]
    radicale.app.zlib = _radicale_zlib  # type: ignore[attr-defined,assignment]
    xmlutils.ET = _ElementTreeForRadicale(ET.__name__)  # type: ignore[attr-defined]
    vobject.base.getLogicalLines = logical_lines
