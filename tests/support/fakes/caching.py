"""Prompt caching as the providers do it, for the fake APIs: prefixes of earlier requests, by content.

A request is a sequence of blocks in the order the provider reads its prompt (tools, system, then every
message part). A cached prefix is one that an earlier request also had, byte for byte, up to a block
boundary. Tokens are estimated as everywhere in the fakes: a quarter of the JSON characters.

- Anthropic caches explicitly: only prefixes that end at a block carrying ``cache_control`` are written,
  and a breakpoint finds an earlier entry at its own position or up to 20 blocks before it.
- Gemini caches implicitly: every prefix of an earlier request (of the same model) can be read back.

Prefixes shorter than the provider's minimum (1,024 tokens for the models the fakes stand in for) are
neither written nor read, as the real services do.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from typing import Any

__all__ = ["LOOKBACK_BLOCKS", "MIN_CACHE_TOKENS", "Prefix", "PrefixCache", "prefixes"]

MIN_CACHE_TOKENS = 1024
LOOKBACK_BLOCKS = 20  # Anthropic: how far before a breakpoint earlier entries are looked for


@dataclass(frozen=True, slots=True)
class Prefix:
    key: str  # hash of every block up to and including this one
    tokens: int  # estimated tokens of those blocks


def prefixes(blocks: list[Any], *, namespace: str = "") -> list[Prefix]:
    """The prefix ending at each block: its key (``namespace`` first: the model) and its estimated tokens."""
    digest = hashlib.sha256(namespace.encode())
    chars = 0
    out = []
    for block in blocks:
        text = json.dumps(block, sort_keys=True, ensure_ascii=False)
        digest.update(text.encode())
        digest.update(b"\x00")
        chars += len(text)
        out.append(Prefix(digest.hexdigest(), chars // 4))
    return out


class PrefixCache:
    """The prefixes written so far (no expiry: a test runs well within any cache lifetime)."""

    def __init__(self, min_tokens: int = MIN_CACHE_TOKENS) -> None:
        self.min_tokens = min_tokens
        self._keys: set[str] = set()
        self._lock = threading.Lock()

    def longest(self, candidates: list[Prefix]) -> int:
        """Tokens of the longest candidate already cached (0: none)."""
        with self._lock:
            return max((p.tokens for p in candidates if p.key in self._keys and p.tokens >= self.min_tokens), default=0)

    def write(self, written: list[Prefix]) -> None:
        with self._lock:
            self._keys.update(p.key for p in written if p.tokens >= self.min_tokens)
