"""`python -m bertlab.predict`: the entry point of `bertlab.tools.predict` (see there)."""

from bertlab.tools.predict import main

if __name__ == "__main__":
    raise SystemExit(main())
