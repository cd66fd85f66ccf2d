from clode.commands.cli import run

run()
