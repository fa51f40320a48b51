"""Answer rules: ordered, the first that matches decides what a request is answered.

    rule.py      a rule's definition, read from its TOML table (the config file, the editor)
    expr.py      the `when` language: a small, safe expression about one request
    patterns.py  globs and regular expressions that never take long
    book.py      the session's live rules, and the matching done for every request
"""
