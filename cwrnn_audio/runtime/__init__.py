"""Streaming runners over either engine."""
