"""The one exception type users see: it names what is wrong and where."""

__all__ = ["EiegenError", "ModelError", "ImageError", "CapacityError", "LinkError"]


class EiegenError(Exception):
    """An error caused by the user's input; the CLI prints it and exits non-zero."""


class ModelError(EiegenError):
    """A malformed model file or layer (NaN, shape, chain, format)."""


class ImageError(EiegenError):
    """A missing, corrupted, truncated or mismatched memory image."""


class CapacityError(ImageError):
    """A layer that does not fit the generator parameters' memories."""


class LinkError(EiegenError):
    """A failure on the host link (UART framing, CRC, timeouts, refusals)."""
