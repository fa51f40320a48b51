"""webhook-inspector: receive, verify, inspect and replay webhooks in a terminal."""

__version__ = "0.1.0"
