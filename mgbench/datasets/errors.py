"""The one error type the data layer raises for bad input."""


class DatasetError(ValueError):
    """A dataset is missing, corrupt or malformed.

    The message always names the file (or dataset) and what is wrong with it, so
    that a user can tell a truncated download from a wrong folder.
    """
