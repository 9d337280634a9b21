"""The web dashboard over HTTP and in a browser."""
