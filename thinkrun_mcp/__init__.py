"""thinkrun-mcp: a local MCP server that gives AI agents a real browser."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("thinkrun-mcp")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

from .config import Settings
from .errors import ThinkRunError

__all__ = ["Settings", "ThinkRunError", "__version__", "create_server"]


def create_server(settings: Settings | None = None):
    """Build the MCP server (see :func:`thinkrun_mcp.server.mcp.create_server`)."""
    from .server.mcp import create_server as _create

    return _create(settings)
