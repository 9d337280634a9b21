"""`plaudit demo` and its sandbox."""
