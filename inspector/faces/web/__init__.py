"""`inspector web`: the receiver once, headless, and the inspector's UI in browser tabs
(textual-serve), each tab a viewer process, behind a token, a cookie and an Origin check."""
