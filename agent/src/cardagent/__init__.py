"""Local SITHS card agent: reads the card through PC/SC and PKCS#11 and tells its state."""

__version__ = "0.2.0"  # the distribution's version too (agent/pyproject.toml reads it)
