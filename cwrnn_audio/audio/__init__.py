"""Autoregressive audio models: corpora, training, model folders, generation."""
