"""The `inspector` command's entry point: the cyclic garbage collector waits while it starts.

Start-up (the imports, the TUI's widgets) allocates what lives as long as the process, so
the collector's passes over it are wasted: ~40 ms before the TUI's first frame (measured in
tmux). It is off from here until that frame is on screen, when the session collects once
and freezes that heap (`Session.start`, called by the app then); for any other command,
until its options are read (`cli` in main.py).
"""

import gc


def main() -> None:
    gc.disable()
    from inspector.faces.cli.main import main as run  # its imports are the start-up

    run()
