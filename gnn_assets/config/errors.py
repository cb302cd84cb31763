class ConfigError(ValueError):
    """A config file is invalid; the message names the file and the field."""
