"""The project's one exception family."""


class ParameterError(ValueError):
    """A user-supplied argument, array or file does not meet expectations.

    Subclasses :class:`ValueError` so that generic handlers keep working; the
    message always names the argument (or file) and quotes the offending value.
    """
