"""The one base class of errors that are the user's to fix."""


class UserError(Exception):
    """Something wrong in what a user handed in or asked for (a config, a graph, a model file,
    what storage holds, a busy warehouse): the CLI prints it as one line without a traceback and
    exits 1. Every such error derives from this class, so no command lists them one by one."""
