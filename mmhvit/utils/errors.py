"""Exceptions shared across mmhvit's packages."""


class ConfigError(ValueError):
    """The config's settings contradict each other or the data."""


class DownloadError(OSError):
    """A checkpoint URL could not be fetched."""
