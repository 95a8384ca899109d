"""The identify bytes: what the host link answers IDENTIFY with.

Built from a design tag (such as "eie" or "systolic"), a dict of the unit's
generator parameters (small non-negative integers) and the link's own
fields; the byte layout is eiegen.sw.link.protocol.encode_identify
(docs/host-link.md, "IDENTIFY"), so the host decodes exactly what the
generator wrote. The link keeps them in its frame buffer, past the payload
area (hw/common/hostlink.py): a read-only region of the memory it already
has, so IDENTIFY costs no logic of its own.
"""

from ...sw.link.protocol import encode_identify

__all__ = ["identify_bytes"]


def identify_bytes(design, params, link=None):
    """The IDENTIFY answer's payload, as bytes."""
    return encode_identify(design, dict(params), dict(link or {}))
