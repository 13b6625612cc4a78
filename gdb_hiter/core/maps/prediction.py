"""What a range loop will still receive: the model both replays produce.

``classic/predict.py`` replays ``mapiternext`` and ``swiss/predict.py``
replays ``Iter.Next`` over memory as it is, from the iterator's own fields;
each call the runtime would make gives one ``Visit`` (the key and element
the loop body then reads). What the replays share is here: the visit, the
prediction, the live map indexed by Go's ``==`` for the runtime's lookups,
and the sorting of the map's other entries into why the loop will not
return them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..memory import MemoryReader, UnreadableMemory
from .keyequality import NOT_SELF_EQUAL, KeyIdentity, UndecidableEquality
from .model import DecodedMap

# Why a current entry of the map is not in ``next`` (``not_visited[].reason``).
BEHIND = "behind the loop's position (returned already, or stored there after the loop passed)"
NOT_WALKED_GROWN = "only in storage the map grew into after the loop started, which the loop does not walk"
NOT_WALKED_CLEARED = "stored after the map was cleared, where the loop does not walk"
NOT_REACHED = "not reached by the loop's walk"
NOT_AHEAD = "not ahead of the loop's position"
LOOP_ENDED = "the loop has ended"
MAP_WAS_EMPTY = "the map was empty when the loop started"


class PredictionStopped(Exception):
    """The replay cannot go on (unreadable or impossible memory); ``str()`` is one line."""


@dataclass
class Visit:
    """One (key, element) the loop body will receive, with where the runtime took it from."""

    key: bytes
    value: bytes
    key_address: int
    value_address: int
    # where and whether the loop returns it depends on the key's hash (a classic loop
    # that started during a grow, walking an old bucket not yet evacuated)
    maybe: bool = False


@dataclass
class Prediction:
    """The rest of one iteration, if nothing changes the map from now on."""

    iterator: int                                   # iterator address
    map_address: Optional[int]
    current: Optional[Visit]
    next: List[Visit] = field(default_factory=list)
    inexact: List[str] = field(default_factory=list)   # why ``next`` may differ from what the loop gets
    # (index into the live map's entries, reason) for every entry neither current nor in ``next``
    not_visited: List[Tuple[int, str]] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not self.inexact

    def not_visited_counts(self) -> Dict[str, int]:
        counts: Dict[str, int] = {}
        for _, reason in self.not_visited:
            counts[reason] = counts.get(reason, 0) + 1
        return counts

    def to_json(self, render_key: Callable[[bytes], str], render_value: Callable[[bytes], str],
                live: Optional[DecodedMap]) -> Dict[str, Any]:
        """The ``hiter-predict --json`` object; keys and values rendered as hmap-show renders them."""
        def pair(visit: Visit) -> Dict[str, Any]:
            rendered: Dict[str, Any] = {"key": render_key(visit.key), "value": render_value(visit.value)}
            if visit.maybe:
                rendered["maybe"] = True
            return rendered
        keys = [pair(visit) for visit in self.next]
        not_visited = []
        if live is not None:
            for index, reason in self.not_visited:
                not_visited.append({"key": render_key(live.entries.keys[index]),
                                    "value": render_value(live.entries.values[index]), "reason": reason})
        return {
            "address": self.iterator,
            "map": self.map_address,
            "exact": self.exact,
            "reason": "; ".join(self.inexact) if self.inexact else None,
            "current": pair(self.current) if self.current else None,
            "next": keys,
            "not_visited": not_visited,
        }


class LiveIndex:
    """The live map's entries by key identity: the runtime's lookup, without its hash function.

    Built on first use: a loop whose map did not change never looks up.
    """

    def __init__(self, live: DecodedMap, identity: KeyIdentity, note: Callable[[str], None]):
        self.live = live
        self.identity = identity
        self.note = note
        self._by_identity: Optional[Dict[Any, int]] = None
        self._by_address: Optional[Dict[int, int]] = None

    def _build(self) -> Dict[Any, int]:
        if self._by_identity is None:
            self._by_identity = {}
            undecided = 0
            for index, raw in enumerate(self.live.entries.keys):
                try:
                    key = self.identity(raw)
                except UndecidableEquality as error:
                    undecided += 1
                    if undecided == 1:
                        self.note(f"a live key cannot be compared: {error}")
                    key = ("raw", raw)
                if key is not NOT_SELF_EQUAL:
                    self._by_identity.setdefault(key, index)
        return self._by_identity

    def lookup(self, raw_key: bytes, *, quiet: bool = False) -> Optional[int]:
        """The index of the live entry equal to ``raw_key`` (``mapaccessK`` / ``getWithKey``), or None.

        ``quiet``: a key that cannot be compared is simply not found (for what
        gdb-hiter says about an entry, not for what the loop receives).
        """
        try:
            key = self.identity(raw_key)
        except UndecidableEquality as error:
            if quiet:
                return None
            self.note(f"a key cannot be compared with the live map's: {error}")
            key = ("raw", raw_key)
        if key is NOT_SELF_EQUAL:
            return None     # k != k: a lookup never finds it
        return self._build().get(key)

    def index_of_address(self, key_address: int) -> Optional[int]:
        if self._by_address is None:
            self._by_address = {address: index for index, address in enumerate(self.live.entries.key_addresses)}
        return self._by_address.get(key_address)

    def visit(self, index: int) -> Visit:
        entries = self.live.entries
        return Visit(entries.keys[index], entries.values[index], entries.key_addresses[index],
                     entries.value_addresses[index])

    def is_self_equal(self, raw_key: bytes) -> Optional[bool]:
        """``t.Key.Equal(k, k)``; None when it cannot be decided."""
        try:
            return self.identity(raw_key) is not NOT_SELF_EQUAL
        except UndecidableEquality:
            return None


def continued(previous: Prediction, current_key: Optional[int], current_elem: Optional[int],
              live: DecodedMap) -> Optional[Prediction]:
    """The prediction of a loop that only moved on since ``previous``, without replaying it.

    For when nothing the replay reads has changed since ``previous`` but the
    iterator itself, whose loop (same start) now stands at the entry whose key
    and element are at ``current_key`` / ``current_elem``. The replay is a
    function of that memory, and the loop received what ``previous`` said it
    would: so it stands at one of ``previous.next``, what is ahead is the rest
    of that list, and what it received on the way is now behind it (the walk
    from the loop's start to its position returns it). None when that cannot
    be said from ``previous`` alone: it was not exact, its position behind the
    loop was not found, an entry on the way is not in the live map (the map is
    growing, or the loop walks storage the map left), or the position is not
    in the list.
    """
    if previous.inexact or previous.current is None or current_key is None:
        return None
    if any(reason == NOT_AHEAD for _, reason in previous.not_visited):
        return None
    step = None
    for position, visit in enumerate(previous.next):
        if visit.key_address == current_key and visit.value_address == current_elem:
            step = position
            break
    if step is None:
        return None
    by_address = {address: position for position, address in enumerate(live.entries.key_addresses)}
    reasons = dict(previous.not_visited)
    for visit in [previous.current] + previous.next[:step + 1]:
        position = by_address.get(visit.key_address)
        if position is None or visit.maybe:
            return None
        reasons[position] = BEHIND
    current = previous.next[step]
    del reasons[by_address[current.key_address]]
    return Prediction(previous.iterator, previous.map_address, current, previous.next[step + 1:], [],
                      sorted(reasons.items()))


def read_exact(memory: MemoryReader, address: int, size: int, what: str) -> bytes:
    if size == 0:
        return b""
    try:
        return memory.read(address, size)
    except UnreadableMemory as error:
        raise PredictionStopped(f"{what} unreadable: {error}") from None


def sort_not_visited(prediction: Prediction, live: DecodedMap, behind: Optional[Sequence[int]],
                     elsewhere_reason: str, index: Optional[LiveIndex] = None) -> None:
    """Give every live entry that is neither current nor ahead its reason (by key address).

    The current entry counts as taken also where the map now keeps its key
    (``index``), when the loop walks storage the map has left.
    ``behind``: the key addresses the same walk returns from its start up to
    the loop's position, or None when that position could not be found again
    (then nothing is said about where the entry is).
    """
    taken = {visit.key_address for visit in prediction.next}
    if prediction.current is not None:
        taken.add(prediction.current.key_address)
        if index is not None and index.index_of_address(prediction.current.key_address) is None:
            found = index.lookup(prediction.current.key, quiet=True)   # the current key, where the map now keeps it
            if found is not None:
                taken.add(live.entries.key_addresses[found])
    behind_set = set(behind or ())
    for position, address in enumerate(live.entries.key_addresses):
        if address in taken:
            continue
        if behind is None:
            reason = NOT_AHEAD
        else:
            reason = BEHIND if address in behind_set else elsewhere_reason
        prediction.not_visited.append((position, reason))


def replay_rest(memory: MemoryReader, iterator: Any, live: Optional[DecodedMap], index: Optional[LiveIndex], *,
                init_name: str, writing: Callable[[Dict[str, Any]], Optional[str]],
                make_replay: Callable[[List[str]], Any], budget: Callable[[], int],
                behind: Callable[[], Optional[List[int]]]) -> Prediction:
    """The prediction both map implementations make, around their own replay.

    ``make_replay(inexact)`` is the implementation's replay (``next()`` returns a
    Visit or None at the end; ``cleared`` says the map was cleared since the loop
    started); ``budget()`` bounds the entries a real loop can have ahead;
    ``behind()`` gives the key addresses the loop passed, or None.
    """
    prediction = Prediction(iterator.address, iterator.map_address, None)
    fields = iterator.fields
    detail = iterator.state_detail
    if detail == "uninitialized":
        prediction.inexact.append(f"{init_name} has not run yet: the iterator is still zero")
        return prediction
    if detail in ("empty-map", "finished"):
        if live is not None:
            sort_not_visited(prediction, live, [], LOOP_ENDED if detail == "finished" else MAP_WAS_EMPTY)
        return prediction
    if live is None or index is None or iterator.map_header is None or iterator.maptype is None:
        prediction.inexact.append("the map or its type descriptor cannot be read")
        return prediction
    being_written = writing(iterator.map_header)
    if being_written:
        prediction.inexact.append(being_written)
    maptype = iterator.maptype
    if detail == "active":
        try:
            prediction.current = Visit(read_exact(memory, fields["key"], maptype.key_size, "the current key"),
                                       read_exact(memory, fields["elem"], maptype.elem_size, "the current element"),
                                       fields["key"], fields["elem"])
        except PredictionStopped as error:
            prediction.inexact.append(str(error))
    most = budget()
    try:
        replay = make_replay(prediction.inexact)
        while True:
            visit = replay.next()
            if visit is None:
                break
            prediction.next.append(visit)
            if len(prediction.next) > most:
                raise PredictionStopped(f"more than {most} entries ahead: the memory is not a real map")
    except PredictionStopped as error:
        prediction.inexact.append(str(error))
        return prediction
    passed = behind() if detail == "active" else []
    reason = NOT_WALKED_CLEARED if replay.cleared else NOT_WALKED_GROWN if iterator.map_grew_since_start \
        else NOT_REACHED
    sort_not_visited(prediction, live, passed, reason, index)
    return prediction


def walk_to_position(replay: Any, target: Any, budget: int) -> Optional[List[int]]:
    """Key addresses a replay started from the loop's beginning returns before it stands at
    ``target`` (the loop's position); None when it ends or stops without getting there."""
    addresses: List[int] = []
    try:
        while len(addresses) <= budget:
            visit = replay.next()
            if visit is None:
                return None
            if replay.position() == target:
                return addresses
            addresses.append(visit.key_address)
    except PredictionStopped:
        pass
    return None
