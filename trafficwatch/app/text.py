"""Untrusted text as Rich Text for the panes: the one sanitiser (trafficwatch.safe), no markup."""
from __future__ import annotations

from rich.text import Text

from trafficwatch.safe import safe_text


def safe_content(value: object, style: str = "") -> Text:
    """A Rich Text of the sanitised value, built without markup parsing ('[/]' stays literal)."""
    return Text(safe_text(value), style=style, no_wrap=True, overflow="ellipsis")
