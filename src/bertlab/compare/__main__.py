"""`python -m bertlab.compare`: see `bertlab.compare.cli`."""

from bertlab.compare.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
