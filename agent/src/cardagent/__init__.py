"""Local SITHS card agent: reads the card through PC/SC and PKCS#11 and tells its state."""

__version__ = "0.1.0"
