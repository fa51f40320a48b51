"""The MCP face: the capture for coding agents, over the Model Context Protocol (server.py)."""
