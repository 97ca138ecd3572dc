"""minivae's version, in one place (the package, the exercises' environment check and setup read it)."""

__version__ = "0.1.0"
