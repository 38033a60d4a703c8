"""The faster stand-ins give what Radicale's own helpers give."""

from __future__ import annotations

import gzip
import io
import xml.etree.ElementTree as ET
from types import SimpleNamespace

from hypothesis import example, given
from hypothesis import strategies as st

from kmdav.faces import davspeed

SEGMENTS = st.sampled_from(["", ".", "..", "...", "a", "b c", "é", "x.vcf", ".hidden"])


@given(st.lists(SEGMENTS, max_size=8), st.booleans(), st.booleans())
def test_sanitize_path_agrees_with_radicale(parts: list[str], lead: bool, trail: bool) -> None:
    path = ("/" if lead else "") + "/".join(parts) + ("/" if trail else "")
    assert davspeed.sanitize_path(path) == davspeed.radicale_sanitize_path(path)


def test_sanitize_path_odd_inputs() -> None:
    for path in ["", "/", "//", "a//b", "/../..", "../a", "/a/./b/.", "//x//y//", "/a/../"]:
        assert davspeed.sanitize_path(path) == davspeed.radicale_sanitize_path(path), path


def _multistatus() -> ET.Element:
    root = ET.Element("{DAV:}multistatus")
    response = ET.SubElement(root, "{DAV:}response")
    ET.SubElement(response, "{DAV:}href").text = "/dav/zoë/a&b <c>.vcf"
    data = ET.SubElement(response, "{urn:ietf:params:xml:ns:carddav}address-data")
    data.text = 'BEGIN:VCARD\r\nFN:Zoë 😀 & "quotes"\r\nEND:VCARD\r\n'
    return root


def test_xml_response_bytes_are_radicale_s() -> None:
    app = SimpleNamespace(
        _encoding="utf-8",
        _response_content_on_debug=False,
        _response_content_on_notice_condition={},
    )
    fast = davspeed._xml_response(app, _multistatus(), {})
    assert fast == davspeed.radicale_xml_response(app, _multistatus(), {})  # type: ignore[arg-type]


def test_gzip_level_still_decodes() -> None:
    compressor = davspeed._radicale_zlib.compressobj(wbits=16 + davspeed._radicale_zlib.MAX_WBITS)
    body = b"<multistatus/>" * 100
    assert gzip.decompress(compressor.compress(body) + compressor.flush()) == body


# Radicale's registered namespaces, a plain name, and the xml: namespace.
TAGS = st.sampled_from(
    [
        "{DAV:}response",
        "{DAV:}href",
        "{urn:ietf:params:xml:ns:caldav}calendar-data",
        "{urn:ietf:params:xml:ns:carddav}address-data",
        "{http://calendarserver.org/ns/}getctag",
        "{http://apple.com/ns/ical/}calendar-color",
        "plain",
    ]
)
TEXTS = st.one_of(st.none(), st.text(alphabet="ab &<>\"'\r\n\té😀", max_size=6))
ATTRIBUTES = st.dictionaries(
    st.sampled_from(["name", "{DAV:}x", "{http://www.w3.org/XML/1998/namespace}lang"]),
    st.text(alphabet='a &<>"\r\n\t', max_size=4),
    max_size=2,
)


@st.composite
def trees(draw: st.DrawFn, depth: int = 3) -> ET.Element:
    element = ET.Element(draw(TAGS), draw(ATTRIBUTES))
    element.text = draw(TEXTS)
    element.tail = draw(TEXTS)
    if depth:
        element.extend(draw(st.lists(trees(depth - 1), max_size=3)))
    return element


def _element_tree_text(root: ET.Element) -> str:
    return ET.tostring(root, encoding="unicode")


@given(trees())
def test_serialize_writes_what_element_tree_writes(root: ET.Element) -> None:
    assert davspeed.serialize(root) == _element_tree_text(root)


def test_unregistered_namespaces_are_left_to_element_tree() -> None:
    root = _multistatus()
    ET.SubElement(root[0], "{urn:example:unknown}prop").text = "x"
    app = SimpleNamespace(
        _encoding="utf-8",
        _response_content_on_debug=False,
        _response_content_on_notice_condition={},
    )
    fast = davspeed._xml_response(app, root, {})
    assert b'xmlns:ns2="urn:example:unknown"' in fast
    assert fast == davspeed.radicale_xml_response(app, root, {})  # type: ignore[arg-type]


# Pieces that exercise every branch of vobject's line joining: folds with a
# space or a tab, blank and whitespace-only lines, CR/LF endings in any mix,
# a quoted-printable mark in any case (also split by a fold) with and without
# a trailing "=", and characters whose lower case is longer (U+0130) or ASCII
# (U+212A, the Kelvin sign).
_LINE_PIECES = st.sampled_from(
    [
        "BEGIN:VCARD",
        "N:Doe;Jane",
        "NOTE;ENCODING=QUOTED-PRINTABLE:a=3Db=",
        "NOTE;encoding=quoted-printable:",
        "X;E=QUOTED-PRI",
        "NTABLE:x=",
        "quoted-printable",
        "=",
        "==",
        " ",
        "\t",
        " x",
        "\tfolded=",
        " NTABLE=",
        "",
        "\r",
        "\u0130\u212a\u00e9",
        "END:VCARD",
    ]
)


@given(
    st.lists(st.tuples(_LINE_PIECES, st.sampled_from(["\n", "\r\n", "\r\r\n", ""])), max_size=12)
)
# The mark split by a fold, then a line the "=" carries on to.
@example([("X;E=QUOTED-PRI", "\r\n"), (" NTABLE=", "\r\n"), ("END:VCARD", "\r\n")])
def test_logical_lines_agree_with_vobject(lines: list[tuple[str, str]]) -> None:
    text = "".join(piece + end for piece, end in lines)
    ours = list(davspeed.logical_lines(io.StringIO(text), True))
    assert ours == list(davspeed.vobject_logical_lines(io.StringIO(text), True))
    plain = list(davspeed.logical_lines(io.StringIO(text), False))
    assert plain == list(davspeed.vobject_logical_lines(io.StringIO(text), False))


def test_logical_lines_of_a_large_photo() -> None:
    """A 5 MB photo folded into 67,568 lines comes out as one logical line
    with vobject's numbering.  (vobject's own joining takes ~11 s on it;
    the speed is measured by ``benchmarks/dav_sync.py --big-photos``.)"""
    photo = "A" * 5_000_000
    folded = "PHOTO;ENCODING=b:" + "\r\n ".join(photo[i : i + 74] for i in range(0, len(photo), 74))
    text = f"BEGIN:VCARD\r\nUID:x\r\n{folded}\r\nEND:VCARD\r\n"
    lines = list(davspeed.logical_lines(io.StringIO(text), True))
    assert [number for _, number in lines] == [0, 2, 3, 3 + 67568]
    assert lines[2][0] == "PHOTO;ENCODING=b:" + photo
