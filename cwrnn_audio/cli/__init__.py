"""The ``cwrnn-audio`` command line."""
