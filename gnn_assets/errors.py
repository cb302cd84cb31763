"""The one base class of errors that are the user's to fix, and how much of a value they echo."""

MAX_ECHOED_CHARS = 200  # of a value quoted in an error: enough to recognise it
MAX_MESSAGE_CHARS = 2000  # of a whole message: one line a terminal and a log can show


def shorten(text: str, limit: int = MAX_ECHOED_CHARS) -> str:
    """text, or its head and tail around an ellipsis that says how much was cut."""
    if len(text) <= limit:
        return text
    keep = max(limit - 40, 2)
    return f"{text[: keep // 2 + keep % 2]}…[{len(text) - keep:,} characters]…{text[len(text) - keep // 2 :]}"


class UserError(Exception):
    """Something wrong in what a user handed in or asked for (a config, a graph, a model file,
    what storage holds, a busy warehouse): the CLI prints it as one line without a traceback and
    exits 1. Every such error derives from this class, so no command lists them one by one.
    A message is bounded (a 100 MB value in a config is not echoed whole)."""

    def __init__(self, message: str = "", *args):
        super().__init__(shorten(str(message), MAX_MESSAGE_CHARS), *args)
