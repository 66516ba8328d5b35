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

import sys
from array import array
from collections.abc import Iterable
from hashlib import blake2b

_LOW, _HIGH = -(2**63), 2**63 - 1


def key_of(external_id: str) -> int:
    """The first 8 bytes of the BLAKE2b digest of the id's UTF-8, as a signed 64-bit integer."""
    return keys_of((external_id,))[external_id]


def keys_of(external_ids: Iterable[str]) -> dict[str, int]:
    """Id -> :func:`key_of` for many ids (the hash spelt once, here: an import hashes every id, without a
    call per id). The digests are read as big-endian signed integers all at once (an array of 64-bit
    integers, its bytes swapped on a little-endian machine), not one by one."""
    ids = list(external_ids)
    keys = array("q", b"".join([blake2b(x.encode("utf-8", "surrogatepass"), digest_size=8).digest() for x in ids]))
    if sys.byteorder == "little":
        keys.byteswap()
    return dict(zip(ids, keys.tolist(), strict=True))


def next_key(key: int) -> int:
    """The key after ``key`` in a run of collisions (wrapping around at the end of 64 bits)."""
    return _LOW if key == _HIGH else key + 1
