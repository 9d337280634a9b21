"""The ASGI application: assembly, routes, health and the guards at the edge."""
