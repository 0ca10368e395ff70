"""The Lookalike desktop app: a thin PySide6 front end over `desktop_app.core`.

Everything slow (disk, database, model, search) runs in workers (`gui.workers`) and comes back through
queued signals; the widgets only show results. Start it with `desktop_app.gui.app.run`.
"""

from desktop_app.gui.qtcompat import protect_refcounts

# Before any widget exists: see qtcompat for the PySide6 reference-count bug this guards against.
protect_refcounts()
