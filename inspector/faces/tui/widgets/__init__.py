"""Textual widgets of the inspector UI."""
