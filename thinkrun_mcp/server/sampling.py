"""The calling client's model for agent tasks (backend ``sampling``), built from a tool call's session.

The task runs on after the tool call that started it has returned, so requests go
over the connection's own channel (stdio's pipe; the streamable-HTTP session's GET
stream), never the tool call's. Only handshake-era connections (protocol
2025-11-25 and older) allow requests from the server; on 2026-07-28 the SDK
refuses them, and :meth:`ClientSampler.unavailable` says so before a task starts.
"""

from __future__ import annotations

from mcp.server.validation import validate_tool_use_result_messages
from mcp.types import CreateMessageRequest, CreateMessageRequestParams, CreateMessageResultWithTools
from mcp.types.version import MODERN_PROTOCOL_VERSIONS

from .app import Ctx

__all__ = ["ClientSampler"]


class ClientSampler:
    """The agent layer's ``Sampler`` for the client that made a tool call."""

    def __init__(self, ctx: Ctx):
        self._session = ctx.session
        self._protocol = ctx.protocol_version
        params = self._session.client_params
        self._name = params.client_info.name if params is not None else "the MCP client"

    @property
    def client_name(self) -> str:
        return self._name

    def unavailable(self) -> str | None:
        capabilities = self._session.client_capabilities
        if capabilities is None or capabilities.sampling is None:
            return f"{self._name} does not support sampling"
        if capabilities.sampling.tools is None:
            return f"{self._name} supports sampling, but not with tools, which the agent needs"
        if self._protocol in MODERN_PROTOCOL_VERSIONS:
            return f"{self._name} connected with protocol {self._protocol}, which allows no requests from the server"
        return None

    async def create_message(self, params: CreateMessageRequestParams) -> CreateMessageResultWithTools:
        validate_tool_use_result_messages(params.messages)
        return await self._session.send_request(CreateMessageRequest(params=params), CreateMessageResultWithTools)
