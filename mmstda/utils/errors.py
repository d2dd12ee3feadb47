"""Errors in what the user passed (files, configs, arguments).

The tools print these as one line and exit with status 2; every other exception
is a bug and keeps its traceback.
"""


class UserInputError(ValueError):
    """An error in what the user passed: shown without a traceback by the tools."""
