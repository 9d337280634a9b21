"""`plaudit demo`: a fictional organisation, a built-in store and the sandbox."""
