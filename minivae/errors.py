"""The exceptions minivae raises on purpose.

Every error a user can provoke through the public API is one of these. Each subclasses the
built-in exception a Python programmer would expect (``ValueError``, ``TypeError``, ``OSError``),
so ``except ValueError`` still works, and each message names the argument or file, what was
expected and what was given.
"""


class MinivaeError(Exception):
    """Base class of every error minivae raises on purpose."""


class ValidationError(MinivaeError, ValueError):
    """An argument has the wrong shape, range, value or name."""


class InputTypeError(MinivaeError, TypeError):
    """An argument has the wrong type (for example integer pixels where floats are needed)."""


class DataFileError(MinivaeError, ValueError):
    """A data file is missing, truncated, corrupt or not in the expected format."""


class DownloadError(MinivaeError, OSError):
    """A file could not be downloaded, or what was downloaded failed its checksum."""


class CheckpointError(MinivaeError, ValueError):
    """A checkpoint is corrupt, of another format version, or of another model."""


class OutputError(MinivaeError, OSError):
    """A result (checkpoint, metrics, picture) cannot be written where it was asked to go."""


class DivergenceError(MinivaeError, FloatingPointError):
    """Training produced a NaN or infinite loss or gradient."""
