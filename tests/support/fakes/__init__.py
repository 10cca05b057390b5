"""Local fake API servers that the real SDKs talk to (127.0.0.1 only; no internet needed), and the
model of an MCP client that answers sampling requests from the same kind of script.

from tests.support.fakes import FakeAnthropic, FakeGemini, FakeOpenAI, FakeClientModel, FakeCloud, Reply, ToolCall
"""

from .fake_anthropic import FakeAnthropic
from .fake_cloud import FakeCloud, png_bytes
from .fake_gemini import FakeGemini
from .fake_openai import FakeOpenAI
from .fake_sampling import FakeClientModel
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
    "FakeClientModel",
    "FakeCloud",
    "FakeGemini",
    "FakeOpenAI",
    "RecordedRequest",
    "RecordingServer",
    "Reply",
    "Response",
    "ScriptItem",
    "ScriptedServer",
    "ToolCall",
    "png_bytes",
]
