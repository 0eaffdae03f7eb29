"""Tests for EV Cloud."""
