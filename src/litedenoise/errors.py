"""The one exception type that carries a message meant for a person."""


class LiteDenoiseError(Exception):
    """A problem with the user's input (file, image, weights, config).

    The CLI prints ``str(error)`` on one line and exits non-zero; library callers catch it.
    """
