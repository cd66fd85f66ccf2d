"""Start CLODE Desktop: ``python main.py [FILE]``."""

from clode_desktop.app import main

if __name__ == "__main__":
    raise SystemExit(main())
