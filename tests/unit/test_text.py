"""Text helpers: clipping, and making any string safe to leave the process."""

from __future__ import annotations

import json

from thinkrun_mcp.text import clip, safe_text


def test_clip_keeps_short_text_and_cuts_long_text_with_an_ellipsis():
    assert clip("abc", 5) == "abc"
    assert clip("abcdefgh", 5) == "abcd…"


def test_lone_surrogates_become_replacement_characters_at_any_depth():
    value = {"title": "a\ud800b", "list": ["\udc00", ("x\ud83d",)], "key\udfff": 3, "emoji": "😀"}
    safe = safe_text(value)
    assert safe == {"title": "a\ufffdb", "list": ["\ufffd", ("x\ufffd",)], "key\ufffd": 3, "emoji": "😀"}
    json.dumps(safe, ensure_ascii=False).encode("utf-8")  # what a transport does; raises on a surrogate


def test_text_without_surrogates_is_returned_as_it_is():
    text = "plain ✓ text"
    assert safe_text(text) is text


def test_lone_surrogate_escapes_in_json_text_become_replacement_characters():
    from thinkrun_mcp.server.stdio import fix_surrogate_escapes

    line = r'{"a": "x\ud800y", "\udfff": "\ud83d\ude00", "b": "\\ud800", "c": "\\\ud800", "d": "\u00e9"}'
    fixed = fix_surrogate_escapes(line)
    assert json.loads(fixed) == {"a": "x\ufffdy", "\ufffd": "😀", "b": "\\ud800", "c": "\\\ufffd", "d": "é"}
    import pydantic_core

    pydantic_core.from_json(fixed)  # what the SDK parses with: refuses the original
