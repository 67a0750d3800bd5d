"""Helpers that start real throwaway services for tests, benchmarks and the demo."""
