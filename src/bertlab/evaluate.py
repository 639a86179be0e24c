"""`python -m bertlab.evaluate`: the entry point of `bertlab.tools.evaluate` (see there)."""

from bertlab.tools.evaluate import main

if __name__ == "__main__":
    raise SystemExit(main())
