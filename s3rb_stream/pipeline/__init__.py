"""Capture loop, load loop and the runner that ties them to signals and settings."""
