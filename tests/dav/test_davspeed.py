"""The faster stand-ins give what Radicale's own helpers give."""

from __future__ import annotations

import gzip
import xml.etree.ElementTree as ET
from types import SimpleNamespace

from hypothesis import given
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
