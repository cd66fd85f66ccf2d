"""Dialogs: export (with the export options form both exports share), batch export, preferences, paste
settings, keyboard shortcuts."""
