"""Many faces on one capture: one process receives, any number view.

    presence.py  who receives into a database: a lock only a live receiver holds, and a
                 record of its pid, URL and control socket (stale records are ignored)
    protocol.py  the control channel's messages (JSON lines) and `Control`, what a face may
                 change in the receiver
    server.py    the receiver's end: a unix socket only the same user can open
    client.py    a viewer's end: find the receiver, watch its state, send it requests

Events themselves never pass through here: viewers read the database and follow its change
feed (inspector.core.store.follow). The channel carries only what the receiver alone holds
in memory: its answer, its secrets, its tunnel.
"""
