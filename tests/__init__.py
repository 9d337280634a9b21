"""Plaudit's tests: one folder per part of the system, fixtures in conftest.py."""
