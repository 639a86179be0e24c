"""`python -m bertlab.export`: the entry point of `bertlab.tools.export` (see there)."""

from bertlab.tools.export import main

if __name__ == "__main__":
    raise SystemExit(main())
