"""Sub-commands of the ``clode`` CLI, one module each (see ``clode.commands.cli``)."""
