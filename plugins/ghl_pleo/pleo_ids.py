"""Pleo ids held packed: 16 bytes for an id in Pleo's own form (a lower-case, hyphenated UUID), not a 96-byte
string object and a pointer. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

_EMPTY = bytes(16)


def pack(value: Any) -> bytes | None:
    """A canonical UUID string (``3fa85f64-5717-4562-b3fc-2c963f66afa6``) as its 16 bytes; None for anything else
    (kept as it is: unpacking must give back the very same text)."""
    if not isinstance(value, str) or len(value) != 36:
        return None
    if value[8] != "-" or value[13] != "-" or value[18] != "-" or value[23] != "-":
        return None
    digits = value.replace("-", "")
    try:
        packed = bytes.fromhex(digits)
    except ValueError:
        return None
    return packed if len(packed) == 16 and packed.hex() == digits else None


def unpack(packed: bytes) -> str:
    h = packed.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class IdColumn:
    """A list of Pleo ids, append-only: UUIDs packed in one buffer, any other id (or None) kept as it is."""

    def __init__(self) -> None:
        self._packed = bytearray()
        self._other: dict[int, Any] = {}  # position -> an id that is not a canonical UUID

    def append(self, value: Any) -> int:
        """Add an id; returns its position."""
        i = len(self)
        packed = pack(value)
        if packed is None:
            self._other[i] = value
            packed = _EMPTY
        self._packed += packed
        return i

    def copy_from(self, other: IdColumn, i: int) -> int:
        """Add ``other``'s id at ``i`` without making its text; returns its position here."""
        if i in other._other:
            return self.append(other._other[i])
        self._packed += other._packed[16 * i : 16 * i + 16]
        return len(self) - 1

    def __len__(self) -> int:
        return len(self._packed) // 16

    def __getitem__(self, i: int) -> Any:
        if i in self._other:
            return self._other[i]
        if not 0 <= i < len(self):
            raise IndexError(i)
        return unpack(bytes(self._packed[16 * i : 16 * i + 16]))

    def keys(self) -> Iterator[Any]:
        """A hashable key per position, equal exactly when the ids are (without making the text of each)."""
        packed, other = self._packed, self._other
        for i in range(len(self)):
            yield ("text", other[i]) if i in other else bytes(packed[16 * i : 16 * i + 16])
