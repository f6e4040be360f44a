"""Report tests use the session-wide ``spark`` and ``lake_home`` fixtures from tests/conftest.py."""
