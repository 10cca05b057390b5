"""Local fake API servers that the real SDKs talk to (127.0.0.1 only; no internet needed).

from tests.support.fakes import FakeAnthropic, FakeGemini, FakeCloud, Reply, ToolCall, Failure, Delay
"""

from .fake_anthropic import FakeAnthropic
from .fake_cloud import FakeCloud, png_bytes
from .fake_gemini import FakeGemini
from .scripted import (
    Delay,
    Failure,
    RecordedRequest,
    RecordingServer,
    Reply,
    Response,
    ScriptedServer,
    ScriptItem,
    ToolCall,
)

__all__ = [
    "Delay",
    "Failure",
    "FakeAnthropic",
    "FakeCloud",
    "FakeGemini",
    "RecordedRequest",
    "RecordingServer",
    "Reply",
    "Response",
    "ScriptItem",
    "ScriptedServer",
    "ToolCall",
    "png_bytes",
]
