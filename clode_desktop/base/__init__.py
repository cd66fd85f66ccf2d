"""What every wing of the app uses: the task manager (worker), the settings, and the link through which
dialogs and panels ask the editor (link)."""
