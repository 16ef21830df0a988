"""Errors the domain raises; each carries a Chinese message fit to show a user as it is."""


class DubanError(Exception):
    """Base of every expected failure: the message is for the user, in Chinese."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(DubanError):
    """A setting (database URL, data folder) is wrong; the message names the setting."""


class ValidationError(DubanError):
    """Bad input; the message names the row, column or field."""


class NotFound(DubanError):
    pass


class ConflictError(DubanError):
    """A save based on a stale version: somebody else changed the row first."""


class PermissionDenied(DubanError):
    pass


class TransitionError(DubanError):
    """A workflow action the state machine does not allow now."""
