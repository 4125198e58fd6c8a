"""The one sanitiser at the display boundary: untrusted log text -> visible, inert characters."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

# C0 controls but tab, DEL, C1, bidi embeddings/overrides/isolates, and other invisible format
# characters that can reorder or hide text on a terminal, and lone surrogates (unencodable).
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069"
                     "\ufeff\ufff9-\ufffb\ud800-\udfff]")


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group(0))
    if 0xDC80 <= c <= 0xDCFF:  # a byte kept by surrogateescape: show the byte itself
        return f"\\x{c - 0xDC00:02x}"
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def safe_text(value: str | bytes | None) -> str:
    """Text safe to put on a terminal: controls and bidi overrides become visible escapes.

    Bytes are decoded as UTF-8 with invalid bytes shown as \\xNN. Escapes already in the log
    (nginx's \\x22, JSON's \\u001b) are left as they are: never unescaped for display.
    """
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "backslashreplace")
    return _UNSAFE.sub(_escape, value)


def safe_content(value: str | bytes | None, style: str = "") -> Text:
    """A Rich Text of the sanitised value, built without markup parsing ('[/]' stays literal)."""
    from rich.text import Text

    return Text(safe_text(value), style=style, no_wrap=True, overflow="ellipsis")
