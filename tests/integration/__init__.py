"""Integration tests: Home Assistant talking HTTP to the local simulator."""
