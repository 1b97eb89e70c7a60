"""Streaming: runners over either engine, and the resampler between a host's rate and a model's."""
