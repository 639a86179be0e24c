"""Small helpers shared across bertlab."""
