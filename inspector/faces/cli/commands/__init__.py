"""Subcommands of `inspector`, each a click command in its own module."""
