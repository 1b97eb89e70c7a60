"""The project's one exception family: catch ``ParameterError`` for any bad argument or file."""


class ParameterError(ValueError):
    """A user-supplied argument, array or file does not meet expectations.

    Subclasses :class:`ValueError` so that generic handlers keep working; the
    message always names the argument (or file) and quotes the offending value.
    """


class ParameterTypeError(ParameterError, TypeError):
    """An argument of the wrong type (a string where a number goes, a list for an array...).

    Both a :class:`ParameterError` (one family for callers) and a :class:`TypeError`
    (what Python code expects for a wrong type).
    """
