"""Board top-levels and platform glue."""
