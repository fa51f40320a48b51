"""Modal screens of the inspector UI."""
