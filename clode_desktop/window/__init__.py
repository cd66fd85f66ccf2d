"""The editor window and its parts: actions and menus, status bar, local exposure tools, zoomed-in detail
renders, exports, the model choice."""
