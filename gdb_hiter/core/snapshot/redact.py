"""Redaction: a snapshot with every key and value replaced by a salted hash token.

Pure core (no gdb). ``redact_snapshot(doc, salt)`` returns a copy in which
each piece of program DATA is replaced by ``«k:…»`` (keys), ``«v:…»``
(values) or ``«b:…»`` (raw bytes), the first 12 hex digits of
HMAC-SHA256(salt, kind + text). The same text gives the same token with the
same salt, so the diff of two redacted snapshots pairs entries exactly as the
diff of the originals does; without the salt a token cannot be checked
against a guessed key. Addresses, counts, the bucket / table structure and
type names stay.

What counts as program data (audited against hmap-show --json and the
iterator JSON of both decoders):

* ``maps[].entries[].key`` / ``.value`` (the ``%#v`` texts, or raw hex bytes
  when the type is unknown);
* in iterators, anywhere: string fields named ``key``, ``value``, ``elem``,
  ``key_text``, ``elem_text``, ``value_text`` and any string field whose name
  ends in ``_bytes`` or ``_hex`` (classic ``current.key_bytes`` /
  ``current.elem_bytes``), and lists of small integers under such names;
* in iterators, ``prediction.next`` and ``prediction.maybe``: the keys the
  loop will still receive (tokens equal to the entries' key tokens);
* in a map kept reduced because its object broke the schema, everything
  under ``unrecorded`` as for iterators;
* the hash seeds (classic ``hash0``, Swiss ``seed``) in map and iterator
  headers: with the seed and the tophash / control bytes a small key space
  could be tested, so they become a keyed hash of themselves too (an
  integer of the same width, so equal seeds stay equal).
"""

from __future__ import annotations

import hashlib
import hmac
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Union

TOKEN_HEX_DIGITS = 12   # 48 bits: a chance collision among 10^5 distinct keys is about 2 in 10^5
DATA_TEXT_FIELDS = {"key", "value", "elem", "key_text", "elem_text", "value_text"}
DATA_SUFFIXES = ("_bytes", "_hex")
SEED_FIELDS = {"hash0": 4, "seed": 8}   # name -> width in bytes


class RedactError(ValueError):
    """A snapshot that cannot be redacted (one line)."""


def _salt_bytes(salt: Union[str, bytes]) -> bytes:
    data = salt.encode("utf-8") if isinstance(salt, str) else bytes(salt)
    if not data:
        raise RedactError("the salt is empty: give a secret, e.g. the one the first redaction printed")
    return data


def token(salt: Union[str, bytes], kind: str, text: str) -> str:
    """``«kind:hhhhhhhhhhhh»`` for ``text`` (HMAC-SHA256 keyed with ``salt``, kind included)."""
    digest = hmac.new(_salt_bytes(salt), f"{kind}\0{text}".encode("utf-8", "surrogatepass"),
                      hashlib.sha256).hexdigest()
    return f"«{kind}:{digest[:TOKEN_HEX_DIGITS]}»"


def _seed(salt: bytes, name: str, value: int, width: int) -> int:
    digest = hmac.new(salt, f"seed\0{name}\0{value}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:width], "little")


def _redact_seeds(header: Any, salt: bytes) -> None:
    if not isinstance(header, dict):
        return
    for name, width in SEED_FIELDS.items():
        value = header.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            header[name] = _seed(salt, name, value, width)


def _is_data_name(name: str) -> bool:
    return name in DATA_TEXT_FIELDS or name.endswith(DATA_SUFFIXES)


_KEEP = object()


def _redacted_field(name: str, item: Any, salt: bytes) -> Any:
    """The redacted value of field ``name`` of iterator JSON, or ``_KEEP`` to walk into it as it is."""
    if _is_data_name(name):
        kind = "k" if name.startswith("key") else "v" if name.startswith(("value", "elem")) else "b"
        if name.endswith(DATA_SUFFIXES):
            kind = "b"
        if isinstance(item, str):
            return token(salt, kind, item)
        if isinstance(item, list) and all(isinstance(byte, int) for byte in item):
            return token(salt, kind, bytes(b & 0xFF for b in item).hex())
    if name in SEED_FIELDS and isinstance(item, int) and not isinstance(item, bool):
        return _seed(salt, name, item, SEED_FIELDS[name])
    return _KEEP


def _redact_prediction(iterator: Any, salt: bytes) -> Any:
    """``prediction.next`` / ``.maybe`` are lists of key texts under names that say nothing of data."""
    prediction = iterator.get("prediction") if isinstance(iterator, dict) else None
    if isinstance(prediction, dict):
        for name in ("next", "maybe"):
            if isinstance(prediction.get(name), list):
                prediction[name] = [token(salt, "k", key) if isinstance(key, str) else key
                                    for key in prediction[name]]
    return iterator


def _redact_tree(root: Any, salt: bytes) -> Any:
    """A copy of iterator JSON with data fields replaced wherever they are.

    Walked with a stack, not recursion: a valid file may nest deeper than
    Python's recursion limit.
    """
    holder: List[Any] = [None]
    stack = [(root, holder, 0)]
    while stack:
        source, parent, slot = stack.pop()
        if isinstance(source, dict):
            copied: Dict[str, Any] = {}
            parent[slot] = copied
            for name, item in source.items():
                replaced = _redacted_field(name, item, salt)
                copied[name] = replaced if replaced is not _KEEP else None
                if replaced is _KEEP:
                    stack.append((item, copied, name))
        elif isinstance(source, list):
            items: List[Any] = [None] * len(source)
            parent[slot] = items
            stack.extend((item, items, index) for index, item in enumerate(source))
        else:
            parent[slot] = source
    return holder[0]


class RedactMemo:
    """Objects already redacted, by identity: the snapshots of a capture read back share every
    map and iterator that did not change (``store.py``), which is then redacted once."""

    KEPT = 16

    def __init__(self):
        self.done: "OrderedDict[int, tuple]" = OrderedDict()

    def get(self, original: Any) -> Any:
        found = self.done.get(id(original))
        return found[1] if found is not None and found[0] is original else None

    def put(self, original: Any, redacted: Any) -> Any:
        self.done[id(original)] = (original, redacted)     # the original is held: its id stays its own
        while len(self.done) > self.KEPT:
            self.done.popitem(last=False)
        return redacted


def redact_snapshot(doc: Dict[str, Any], salt: Union[str, bytes], memo: Optional[RedactMemo] = None) -> Dict[str, Any]:
    """A redacted copy of snapshot ``doc`` (``doc`` itself is not changed).

    ``memo``: objects redacted before (the same salt) are not redacted again.
    """
    if doc.get("redacted"):
        raise RedactError("the snapshot is already redacted")
    salt_bytes = _salt_bytes(salt)
    result = dict(doc)   # what is not replaced below is shared with ``doc``, never changed
    maps = []
    for original in doc.get("maps") or ():
        if memo is not None and memo.get(original) is not None:
            maps.append(memo.get(original))
            continue
        item = dict(original)
        if isinstance(item.get("entries"), list):
            item["entries"] = [dict(entry, key=token(salt_bytes, "k", entry["key"]),
                                    value=token(salt_bytes, "v", entry["value"])) for entry in item["entries"]]
        if isinstance(item.get("header"), dict):
            item["header"] = dict(item["header"])
            _redact_seeds(item["header"], salt_bytes)
        if "unrecorded" in item:
            item["unrecorded"] = _redact_tree(item["unrecorded"], salt_bytes)
        maps.append(memo.put(original, item) if memo is not None else item)
    if "maps" in doc:
        result["maps"] = maps
    iterators = []
    for original in result.get("iterators") or ():
        redacted = memo.get(original) if memo is not None else None
        if redacted is None:
            redacted = _redact_prediction(_redact_tree(original, salt_bytes), salt_bytes)
            if memo is not None:
                memo.put(original, redacted)
        iterators.append(redacted)
    result["iterators"] = iterators
    result["redacted"] = {"method": "hmac-sha256", "salted": True, "token_hex_digits": TOKEN_HEX_DIGITS}
    return result
