"""The snapshot of one cgo transition, made from what changed since the last one.

``hiter-watch`` (and so ``gdb-hiter capture``) calls ``Recorder.take`` at
every transition. Most transitions change nothing in a watched map, or one
entry; decoding and rendering a 100k-entry map costs ~0.2 s, rereading its
memory ~2 ms. So for each map (and each iterator) the recorder keeps what
its last decode read (``core.memimage.Footprint``) and the object it made:

* a map whose footprint reads the same bytes again (same address, type and
  expression) is the same object: nothing is decoded or rendered;
* otherwise it is decoded from the bytes just read (``PrefetchedMemory``)
  and rendered straight to JSON text (``maptext.map_json_parts``), and its
  structure (everything but the entries and rows) is checked against the
  schema; entries come from our own renderers. A map that breaks the
  schema goes the slow way (``snapshot_cmd.map_document_for``, kept reduced);
* an iterator is decoded and predicted again unless its own footprint and
  its map are unchanged; its map is decoded once per transition and shared.

With a store (``--out``: ``core.snapshot.store``) big objects are written as
chunks, and a chunk already stored is not written again; without one, the
snapshot is a document in memory whose unchanged objects are shared with the
previous one. The result is the document ``snapshot_cmd.collect`` gives at
the same stop (a test in real gdb compares them).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import gdb

from ..core.maps.implementations import for_report
from ..core.maps.interface import IteratorError
from ..core.memimage import Footprint, PrefetchedMemory, RecordingReader, reads_of
from ..core.memory import UnreadableMemory
from ..core.render import maptext
from ..core.snapshot import document
from ..core.snapshot.store import INLINE_CHARS, ChunkStore, StoredObject
from . import expressions
from . import gotypes_gdb
from . import mapref
from . import predict_cmd
from . import snapshot_cmd
from .command import UserError
from .memory import InferiorMemory
from .program import current_program, version_report


@dataclass
class _Kept:
    """What the last snapshot made of one map or iterator."""

    identity: Tuple[Any, ...]
    footprint: Footprint
    obj: Any                         # the object: a dict, or a StoredObject (its JSON text)
    live: Any = None                 # maps: (DecodedMap, key GoType, MapRef) for the predictions
    map_state: int = 0               # iterators: the generation of their map they were made with
    map_address: Optional[int] = None
    descriptor: Optional[int] = None
    iterator: Any = None             # iterators: the decoded iterator, its Prediction and the snapshot's form
    prediction: Any = None
    prediction_json: Optional[Dict[str, Any]] = None


@dataclass
class Timing:
    """Seconds spent, per phase, in one snapshot (the benchmark's split)."""

    read: float = 0.0       # rereading footprints; finding iterators
    decode: float = 0.0     # decoding, rendering, predicting what changed
    write: float = 0.0      # chunks and the snapshot file

    def to_json(self) -> Dict[str, float]:
        return {"read": round(self.read, 6), "decode": round(self.decode, 6), "write": round(self.write, 6)}


@dataclass
class Recorder:
    targets: Sequence[str]
    every_iterator: bool
    out_dir: Optional[str]
    limit: Optional[int] = None
    store: Optional[ChunkStore] = None
    maps: Dict[Tuple[str, Optional[str]], _Kept] = field(default_factory=dict)
    iterators: Dict[int, _Kept] = field(default_factory=dict)
    generations: Dict[Tuple[str, Optional[str]], int] = field(default_factory=dict)
    reused: int = 0
    made: int = 0
    continued: int = 0

    def __post_init__(self):
        if self.out_dir and self.store is None:
            self.store = ChunkStore(self.out_dir, write=True)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None

    # -- one transition

    def take(self, *, seq: int, event: str, cfunc: Optional[str], goroutine: Optional[int],
             path: Optional[str]) -> Tuple[Dict[str, Any], int, Timing]:
        """The snapshot (written to ``path`` when there is a store), the bytes written, the time spent."""
        timing = Timing()
        memory = InferiorMemory()
        report = version_report()
        implementation = for_report(report)
        now = _Now()
        wanted: List[int] = []
        iterator_targets: List[int] = []
        for target in self.targets:
            if expressions.is_number(target):
                address = int(target, 0)
                try:
                    implementation.check_iterator(memory, address)
                except IteratorError:
                    pass
                else:
                    iterator_targets.append(address)
                    continue
            try:
                wanted.append(self._add_map(memory, (target, None), now, timing))
            except UserError as error:
                now.notes.append(f"{target}: {error}")

        found_list: List[Dict[str, Any]] = [{"address": address, "goroutine": None, "function": None}
                                            for address in iterator_targets]
        if not self.targets or self.every_iterator or wanted:
            started = time.perf_counter()
            try:
                found = snapshot_cmd.find_iterators(False, notes=now.notes)
            except (UserError, UnreadableMemory, ValueError, gdb.error) as error:
                now.notes.append(f"finding iterators: {error}")
                found = []
            timing.read += time.perf_counter() - started
            for item in found:
                if self.targets and not self.every_iterator and item["map"] not in wanted:
                    continue
                if all(item["address"] != other["address"] for other in found_list):
                    found_list.append(item)

        iterators: List[Any] = []
        for item in found_list:
            obj = self._iterator(memory, implementation, item, now, timing)
            if obj is not None:
                iterators.append(obj)
        notes = now.notes + now.map_notes
        maps = now.maps
        location = snapshot_cmd.go_location()
        cut = list(notes)
        if self.limit is not None:
            cut.insert(0, f"entries: at most {self.limit} per map (--limit)")
        doc = {
            "format": document.FORMAT, "version": document.VERSION, "seq": seq, "label": None, "event": event,
            "location": location, "goroutine": goroutine, "cfunc": cfunc, "taken_at": document.now_iso(),
            "program": current_program().to_json(), "go": report.to_json(),
            "maps": list(maps.values()), "iterators": iterators,
            "limits": {"entries": self.limit, "maps": None, "iterators": None, "cut": cut},
            "gdb_hiter_version": _version(),
        }
        self._forget(now)
        written = 0
        started = time.perf_counter()
        if self.store is not None and path is not None:
            written = document.write_stored_snapshot(doc, path, self.store)
        else:
            # the objects' structure was checked where they were made; the document around them here
            document.validate_stub(dict(doc, maps=[], iterators=[]))
            doc = dict(doc, maps=[_as_object(item) for item in doc["maps"]],
                       iterators=[_as_object(item) for item in doc["iterators"]])
        timing.write += time.perf_counter() - started
        return doc, written, timing

    # -- maps

    def _map(self, memory, source: Tuple[str, Optional[str]], timing: Timing):
        """(address, object, (decoded, key type, ref) or None, generation) of one map."""
        expression, type_name = source
        started = time.perf_counter()
        ref = mapref.resolve_map(expression, type_name)           # UserError: no such map, nil map
        identity = (ref.address, ref.descriptor_address, ref.type_name, expression, self.limit)
        kept = self.maps.get(source)
        fresh = []
        if kept is not None and kept.identity == identity:
            # all of it read again when it changed: the new decode reads from these bytes
            same, fresh = kept.footprint.recheck(memory, read_all=True)
            timing.read += time.perf_counter() - started
            if same:
                self.reused += 1
                return ref.address, kept.obj, kept.live, self.generations.get(source, 0)
        else:
            timing.read += time.perf_counter() - started
        started = time.perf_counter()
        recording = RecordingReader(PrefetchedMemory(fresh, memory))
        obj, live = self._render_map(recording, ref, expression if type_name is None else None)
        self.maps[source] = _Kept(identity, Footprint.of(recording.reads, memory), obj, live)
        recording.stop()
        self.generations[source] = self.generations.get(source, 0) + 1
        self.made += 1
        timing.decode += time.perf_counter() - started
        return ref.address, obj, live, self.generations[source]

    def _render_map(self, memory, ref, expression: Optional[str]):
        try:
            decoded = ref.implementation.decode_map(memory, ref.address, ref.maptype)
        except (UnreadableMemory, ValueError):
            doc = snapshot_cmd.map_document_for(ref.expression, self.limit, ref.type_name if expression is None
                                                else None)
            return _named(doc, expression), None
        render_key, render_value = (_Memo(renderer) for renderer in ref.renderers(memory))
        head = maptext.map_document(decoded, ref.type_name, render_key, render_value, expression=expression,
                                    show=0, rows=False)
        for name in ("buckets", "old_buckets", "groups"):
            if isinstance(head.get(name), str):
                head[name] = []
        try:
            document.validate_part("map", head, "$.maps[]")
        except document.SnapshotError:
            # a header the schema refuses (corrupt memory): the slow path keeps what is valid
            doc = document.recordable_map(snapshot_cmd._plain(maptext.map_document(
                decoded, ref.type_name, render_key, render_value, expression=expression, show=self.limit)))
            return doc, (decoded, ref.key_type, ref, (render_key, render_value))
        text = "".join(maptext.map_json_parts(decoded, ref.type_name, render_key, render_value,
                                              expression=expression, show=self.limit))
        live = (decoded, ref.key_type, ref, (render_key, render_value))
        if len(text) < INLINE_CHARS:
            return json.loads(text), live
        return StoredObject(text, key=("maps", ref.address)), live

    # -- iterators

    def _iterator(self, memory, implementation, found: Dict[str, Any], now: "_Now", timing: Timing):
        address = found["address"]
        started = time.perf_counter()
        try:
            raw = memory.read(address, implementation.iterator_size)
        except UnreadableMemory as error:
            now.notes.append(f"iterator {address:#x}: {error}")
            return None
        now.iterators_seen.add(address)
        kept = self.iterators.get(address)
        who = (found.get("goroutine"), found.get("function"))
        if kept is not None and kept.identity[1:] == who:
            if kept.map_address and kept.map_address not in now.maps:
                self._map_for_iterator(memory, implementation, kept.map_address, kept.descriptor, kept.obj,
                                       now, timing)
            if kept.map_address not in now.states or now.states[kept.map_address] == kept.map_state:
                moved = kept.identity[0] != raw
                same, fresh = kept.footprint.recheck(PrefetchedMemory(now.regions(kept.map_address), memory),
                                                     skip=(address, len(raw)) if moved else None)
                timing.read += time.perf_counter() - started
                if same and not moved:
                    self.reused += 1
                    return kept.obj
                if same:
                    obj = self._moved_on(memory, implementation, address, raw, who, kept, fresh, now, timing)
                    if obj is not None:
                        return obj
                started = time.perf_counter()
        timing.read += time.perf_counter() - started
        started = time.perf_counter()
        decoding = RecordingReader(memory)
        try:
            decoded = implementation.decode_iterator(decoding, address)
        except IteratorError as error:
            now.notes.append(f"iterator {address:#x}: {error}")
            return None
        doc = self._iterator_doc(decoded, who)
        map_address, descriptor = doc.get("map_address"), snapshot_cmd._descriptor_of(doc)
        timing.decode += time.perf_counter() - started
        if map_address and map_address not in now.maps:
            self._map_for_iterator(memory, implementation, map_address, descriptor, doc, now, timing)
        started = time.perf_counter()
        # The replay reads the map's buckets or groups again: from the bytes read for the map just now,
        # which the map's own footprint covers (the object is kept only while the map is unchanged);
        # only what it reads elsewhere is recorded.
        outside = RecordingReader(memory)
        recording = PrefetchedMemory(now.regions(map_address), outside)
        live = now.lives.get(map_address)
        live_map = prediction = None
        value_renderer = None
        if live is not None:
            # the map's own renderers, bound to the memory it was decoded from (unchanged since,
            # or the object would not be kept): a key ahead is rendered once, for the map
            decoded_map, key_type, _ref, (key_renderer, value_renderer) = live
            live_map = (decoded_map, key_type, (key_renderer.one, value_renderer.one))
        try:
            loop = predict_cmd.predict_iterator(recording, implementation, decoded, live_map=live_map)
            doc["prediction"] = loop.snapshot_json()
            prediction = loop.prediction
        except UserError as error:
            doc["prediction"] = {"exact": False, "reason": str(error), "current": None, "next": [], "maybe": [],
                                 "not_visited": {}}
        obj = self._iterator_object(doc, address, now)
        if obj is None:
            return None
        self.iterators[address] = _Kept(
            (raw,) + who, Footprint.of(decoding.reads + outside.reads, memory), obj,
            map_state=now.states.get(map_address, 0), map_address=map_address, descriptor=descriptor,
            iterator=decoded, prediction=prediction if live is not None else None,
            prediction_json=doc["prediction"])
        self.made += 1
        timing.decode += time.perf_counter() - started
        return obj

    def _moved_on(self, memory, implementation, address: int, raw: bytes, who, kept: _Kept, fresh, now: "_Now",
                  timing: Timing):
        """The object of an iterator whose loop only moved on since the last snapshot (nothing else it
        reads changed): its new fields, and the rest of the last prediction (``continue_prediction``)."""
        live = now.lives.get(kept.map_address)
        if kept.prediction is None or live is None:
            return None
        started = time.perf_counter()
        decoding = RecordingReader(PrefetchedMemory(fresh, memory))
        try:
            decoded = implementation.decode_iterator(decoding, address)
        except IteratorError:
            return None
        prediction = implementation.continue_prediction(kept.prediction, kept.iterator, decoded, live[0])
        if prediction is None:
            return None
        doc = self._iterator_doc(decoded, who)
        before = kept.prediction_json
        step = len(kept.prediction.next) - len(prediction.next) - 1
        value_renderer = live[3][1]
        doc["prediction"] = {"exact": True, "reason": None,
                             "current": {"key": before["next"][step],
                                         "value": value_renderer.one(prediction.current.value)},
                             "next": before["next"][step + 1:], "maybe": [],
                             "not_visited": prediction.not_visited_counts()}
        obj = self._iterator_object(doc, address, now)
        if obj is None:
            return None
        self.iterators[address] = _Kept(
            (raw,) + who, Footprint.of(reads_of(fresh) + decoding.reads, memory), obj,
            map_state=kept.map_state, map_address=kept.map_address, descriptor=kept.descriptor,
            iterator=decoded, prediction=prediction, prediction_json=doc["prediction"])
        self.made += 1
        self.continued += 1
        timing.decode += time.perf_counter() - started
        return obj

    def _iterator_doc(self, decoded, who) -> Dict[str, Any]:
        doc = snapshot_cmd._plain(decoded.to_json())
        doc["goroutine"], doc["function"] = who
        return doc

    def _iterator_object(self, doc: Dict[str, Any], address: int, now: "_Now"):
        """The iterator as a snapshot keeps it, its structure checked (not each key ahead)."""
        shallow = dict(doc, prediction=dict(doc["prediction"], next=[], maybe=[]))
        try:
            document.validate_part("iterator", shallow, f"$.iterators[{address:#x}]")
        except document.SnapshotError as error:
            now.notes.append(f"iterator {address:#x}: not recorded, its object is not valid: {error}")
            return None
        text = json.dumps(doc, allow_nan=False)
        return doc if len(text) < INLINE_CHARS else StoredObject(text, key=("iterators", address))

    def _map_for_iterator(self, memory, implementation, address: int, descriptor: Optional[int], iterator_obj,
                          now: "_Now", timing: Timing) -> None:
        """The map an iterator walks, when no target named it: by address, with the iterator's type."""
        if not address or not descriptor:
            return
        names = gotypes_gdb.runtime_type_names(memory)
        name = names(descriptor) if names else None
        if name and name.startswith("map["):
            source = (f"{address:#x}", name)
            try:
                self._add_map(memory, source, now, timing)
                return
            except UserError as error:
                now.map_notes.append(f"map {address:#x} ({name}): {error}; its entries are raw bytes")
        doc = snapshot_cmd.map_of_iterator(memory, implementation, _as_object(iterator_obj), self.limit,
                                           now.map_notes)
        if doc is not None:
            now.maps[address] = doc

    def _add_map(self, memory, source, now: "_Now", timing: Timing) -> int:
        address, obj, live, generation = self._map(memory, source, timing)
        now.sources.add(source)
        now.maps.setdefault(address, obj)
        if live is not None:
            now.lives.setdefault(address, live)
        now.states.setdefault(address, generation)
        now.footprints.setdefault(address, self.maps[source].footprint)
        return address

    def _forget(self, now: "_Now") -> None:
        for source in [source for source in self.maps if source not in now.sources]:
            del self.maps[source]
        for address in [address for address in self.iterators if address not in now.iterators_seen]:
            del self.iterators[address]
        if self.store is not None:
            self.store.forget([("maps", address) for address in now.maps]
                              + [("iterators", address) for address in self.iterators])


@dataclass
class _Now:
    """What one transition has made so far."""

    notes: List[str] = field(default_factory=list)
    map_notes: List[str] = field(default_factory=list)
    maps: Dict[int, Any] = field(default_factory=dict)           # map address -> object
    lives: Dict[int, Any] = field(default_factory=dict)          # map address -> (decoded, key type, ref)
    states: Dict[int, int] = field(default_factory=dict)         # map address -> generation
    footprints: Dict[int, Footprint] = field(default_factory=dict)
    sources: set = field(default_factory=set)
    iterators_seen: set = field(default_factory=set)

    def regions(self, map_address: Optional[int]):
        footprint = self.footprints.get(map_address)
        return footprint.regions if footprint is not None else []


class _Memo:
    """A renderer that keeps its texts by the bytes rendered: over one state of memory the same
    bytes render the same, so a key the map rendered is not rendered again for a loop's prediction."""

    def __init__(self, inner):
        self.inner = inner
        self.texts: Dict[bytes, str] = {}
        self.plain = getattr(inner, "scalar", None) is not None or getattr(inner, "printf", None) is not None

    def one(self, data: bytes) -> str:
        if self.plain:
            return self.inner.one(data)
        text = self.texts.get(data)
        if text is None:
            text = self.texts[data] = self.inner.one(data)
        return text

    def many(self, datas):
        texts = self.inner.many(datas)
        if not self.plain:
            self.texts.update(zip(datas, texts))
        return texts

    def __call__(self, entry) -> str:
        return self.one(getattr(entry, self.inner.attribute))

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _named(doc: Dict[str, Any], expression: Optional[str]) -> Dict[str, Any]:
    doc["expression"] = expression
    return doc


def _as_object(item: Any) -> Any:
    if isinstance(item, StoredObject):
        if not hasattr(item, "parsed"):
            item.parsed = json.loads(item.text)
        return item.parsed
    return item


def _version() -> str:
    from .. import __version__
    return __version__
