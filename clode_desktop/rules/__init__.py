"""The editor's rules, Qt-free: what to prepare or render next (editing), undo and redo (history), the
model and photo behind the window (engine), a folder's photos (folder). Tested without widgets."""
