"""Numba CPU kernels (compiled on first use, cached on disk)."""
