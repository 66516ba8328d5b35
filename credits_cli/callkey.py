"""A call's key: the compact form of its identity that the database keeps unique per tenant.

The duplicate guard of SPEC §6.1 ("a call id the tenant already has is a
duplicate") is a unique index on ``calls (tenant_id, guard)``: ``guard`` is a
64-bit integer made from the call's id (:func:`key_of`): an index entry
about a third the size of one on the id's text (a GUID), so a year of calls
keeps its index in fewer pages, read and written.

Two different ids may share a key (a hash collision: about one chance in
10**12 between two calls of a year of ten million). Then the second is stored
under the next key that is free (``key + 1``, ...), and a call's id is found
by following that run from its own key to the first free one, comparing the
ids themselves (:func:`credits_cli.rating.store.identify`): the key is how the
database refuses a second copy, the id is what decides that two calls are the
same. Nothing is ever decided by the hash alone.

:func:`key_of` is stored in every database: it never changes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from hashlib import blake2b

_LOW, _HIGH = -(2**63), 2**63 - 1
_SIGNED_64 = struct.Struct(">q")  # the digest's 8 bytes as a big-endian signed integer


def key_of(external_id: str) -> int:
    """The first 8 bytes of the BLAKE2b digest of the id's UTF-8, as a signed 64-bit integer."""
    return keys_of((external_id,))[external_id]


def keys_of(external_ids: Iterable[str]) -> dict[str, int]:
    """Id -> :func:`key_of` for many ids (the hash spelt once, here: an import hashes every id, without a
    call per id)."""
    unpack = _SIGNED_64.unpack
    return {x: unpack(blake2b(x.encode("utf-8", "surrogatepass"), digest_size=8).digest())[0] for x in external_ids}


def next_key(key: int) -> int:
    """The key after ``key`` in a run of collisions (wrapping around at the end of 64 bits)."""
    return _LOW if key == _HIGH else key + 1
