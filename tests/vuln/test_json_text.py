"""The JSON reports are written by orjson (``formats.interface.json_text``) and must read
exactly as ``json.dumps(indent=2, ensure_ascii=False)`` wrote them: same bytes for any document
of text, numbers, booleans and nulls, and for every report format of a real result."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support.findings import sample_result
from zerocve.vuln.formats import (
    OutputFormat,
    RenderOptions,
    interface,
    json_format,
    openvex,
    renderer,
    sarif,
)
from zerocve.vuln.formats import cyclonedx as cyclonedx_format


def _standard(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# Text of any code point, lone surrogates included; integers past 64 bits; CVSS scores.
_SCALARS = (
    st.text(alphabet=st.characters(exclude_categories=()), max_size=20)
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.booleans()
    | st.none()
    | st.integers(min_value=0, max_value=100).map(lambda n: n / 10)
)
_DOCUMENTS = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(_DOCUMENTS)
def test_any_document_reads_as_the_standard_library_writes_it(document: Any) -> None:
    assert interface.json_text(document) == _standard(document)


def test_keys_and_types_json_refuses_or_writes_otherwise_go_to_json() -> None:
    assert interface.json_text({1: "a", "b": [1, 2]}) == _standard({1: "a", "b": [1, 2]})
    assert interface.json_text({"s": OutputFormat.JSON}) == _standard({"s": OutputFormat.JSON})
    with pytest.raises(TypeError):
        interface.json_text({"when": RenderOptions().timestamp})


@pytest.mark.parametrize(
    ("fmt", "module"),
    [(OutputFormat.JSON, json_format), (OutputFormat.SARIF, sarif),
     (OutputFormat.CYCLONEDX, cyclonedx_format), (OutputFormat.OPENVEX, openvex)],
)
def test_each_report_is_written_by_orjson_as_json_wrote_it(
    fmt: OutputFormat, module: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, options = sample_result(), RenderOptions()
    expected = _standard(module.document(result, options))
    # The fast path is the one taken: json's writer is not reached for a report.
    monkeypatch.setattr(interface, "json", SimpleNamespace(dumps=None))
    assert renderer(fmt)(result, options) == expected
