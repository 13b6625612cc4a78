"""The loop replay (hiter-predict's core) over memory captured from real Go programs, and Go's ==.

The real-gdb test (tests/gdb/test_predict.py) checks predictions against
what the loops then received; these run the same replay in plain CPython
over the recorded maps of tests/unit/data, where nothing changed the map
during the loop: the entries ahead are then exactly the ones the loop has
not seen yet, each once.
"""

from __future__ import annotations

import math
import struct

import pytest

from gdb_hiter.core.maps import classic, swiss
from gdb_hiter.core.layouts.classic import classic_layout
from gdb_hiter.core.layouts.fields import field_offsets
from gdb_hiter.core.maps.implementations import for_layout
from gdb_hiter.core.maps.interface import MapLayout
from gdb_hiter.core.maps.keyequality import NOT_SELF_EQUAL, KeyIdentity, UndecidableEquality
from gdb_hiter.core.maps.prediction import BEHIND
from gdb_hiter.core.memory import SegmentMemory
from gdb_hiter.core.program.goversion import parse_build_version
from gdb_hiter.core.render import gotypes
from gdb_hiter.core.render.gotypes import GoType, StructField

import test_classic
import test_swiss

INT64 = GoType.basic(gotypes.INT64)


def pairs(visits):
    return [(struct.unpack("<q", visit.key)[0], struct.unpack("<q", visit.value)[0]) for visit in visits]


def classic_prediction(toolchain, scenario):
    case = test_classic.Case(toolchain, scenario)
    layout = MapLayout("classic", case.layout, parse_build_version(toolchain.split("-")[0]).minor)
    iterator = classic.decode_iterator(case.memory, case.hiter, case.layout)
    live = case.decode()
    return for_layout(layout).predict(case.memory, iterator, live, INT64), case, live


@pytest.mark.parametrize("toolchain", test_classic.TOOLCHAINS)
@pytest.mark.parametrize("scenario", ["iterating", "iter-samesize"])
def test_classic_rest_of_an_unchanged_loop(toolchain, scenario):
    prediction, case, live = classic_prediction(toolchain, scenario)
    assert prediction.exact, prediction.inexact
    visited = [tuple(pair) for pair in case.truth["visited"]]
    every = sorted(tuple(pair) for pair in case.truth["entries"])
    ahead = pairs(prediction.next)
    assert len(ahead) == len(set(ahead))
    assert pairs([prediction.current]) == visited[-1:]
    assert sorted(ahead) == sorted(set(every) - set(visited))
    # the rest of the map: behind the loop (what it returned before the current entry)
    assert {reason for _, reason in prediction.not_visited} <= {BEHIND}
    behind = sorted((struct.unpack("<q", live.entries.keys[index])[0], struct.unpack("<q", live.entries.values[index])[0])
                    for index, _ in prediction.not_visited)
    assert behind == sorted(visited[:-1])


@pytest.mark.parametrize("toolchain", test_classic.TOOLCHAINS)
def test_classic_loop_started_mid_grow_marks_what_the_hash_decides(toolchain):
    prediction, case, _ = classic_prediction(toolchain, "iter-growing")
    every = {tuple(pair) for pair in case.truth["entries"]}
    visited = {tuple(pair) for pair in case.truth["visited"]}
    ahead = pairs(prediction.next)
    assert set(every) - visited <= set(ahead) <= every
    maybe = [visit for visit in prediction.next if visit.maybe]
    assert maybe and not prediction.exact and "hash" in prediction.inexact[0]
    # an entry that is not "maybe" comes from a bucket the hash does not choose
    assert set(pairs(visit for visit in prediction.next if not visit.maybe)) <= set(every) - visited


@pytest.mark.parametrize("toolchain", test_classic.TOOLCHAINS)
def test_classic_finished_loop_receives_nothing(toolchain):
    prediction, case, live = classic_prediction(toolchain, "iter-done")
    assert prediction.exact and prediction.next == [] and prediction.current is None
    assert len(prediction.not_visited) == len(live.entries)


@pytest.mark.parametrize("toolchain", test_classic.TOOLCHAINS)
def test_classic_iterator_b_disagreeing_with_its_array(toolchain):
    """Found by tests/unit/test_fuzz.py: a loop over the old array (iter-grew-mid) with it.B corrupt
    (one less) raised IndexError: the bucket cache sliced a chunk read for the shorter array."""
    case = test_classic.Case(toolchain, "iter-grew-mid")
    layout = MapLayout("classic", case.layout, parse_build_version(toolchain.split("-")[0]).minor)
    iterator = classic.decode_iterator(case.memory, case.hiter, case.layout)
    offset = field_offsets(classic_layout(case.layout).hiter)["B"][0]
    memory = case.patched(case.hiter + offset, bytes([iterator.fields["B"] - 2]))
    corrupt = classic.decode_iterator(memory, case.hiter, case.layout)
    assert corrupt.fields["B"] == iterator.fields["B"] - 2
    prediction = for_layout(layout).predict(memory, corrupt, case.decode(), INT64)
    # the replay walks what memory says, the smaller array: fewer entries ahead, each read whole
    assert all(len(visit.key) == 8 for visit in prediction.next)
    assert len(prediction.next) < len(for_layout(layout).predict(case.memory, iterator, case.decode(), INT64).next)


@pytest.mark.parametrize("build", test_swiss.BUILDS)
@pytest.mark.parametrize("name", ["itersmall", "itermulti"])
def test_swiss_rest_of_an_unchanged_loop(build, name):
    iterator, memory, case = test_swiss.decode_iter(build, name)
    layout, minor = test_swiss.layout_of(build)
    implementation = for_layout(MapLayout("swiss", layout, minor))
    live = swiss.decode_map(memory, case["map"], iterator.maptype, layout, go_minor=minor)
    prediction = implementation.predict(memory, iterator, live, INT64)
    truth = test_swiss.truth(build, name)
    assert prediction.exact, prediction.inexact
    ahead = pairs(prediction.next)
    assert len(ahead) == len(set(ahead)) == case["header"]["used"] - truth["seen"]
    assert pairs([prediction.current]) == [truth["cur"]]
    every = set(test_swiss.int64_pairs(live))
    behind = {(struct.unpack("<q", live.entries.keys[index])[0], struct.unpack("<q", live.entries.values[index])[0])
              for index, _ in prediction.not_visited}
    assert {reason for _, reason in prediction.not_visited} <= {BEHIND}
    assert set(ahead) | behind | {truth["cur"]} == every and len(every) == case["header"]["used"]
    assert len(behind) == truth["seen"] - 1


# --------------------------------------------------------------------------
# Go's == as identities


def identity(go_type, memory=None):
    return KeyIdentity(go_type, memory or SegmentMemory())


def test_floats_compare_by_value():
    same = identity(GoType.basic(gotypes.FLOAT64))
    assert same(struct.pack("<d", 0.0)) == same(struct.pack("<d", -0.0))
    assert same(struct.pack("<d", 1.5)) != same(struct.pack("<d", 2.5))
    assert same(struct.pack("<d", math.nan)) is NOT_SELF_EQUAL
    assert NOT_SELF_EQUAL != NOT_SELF_EQUAL
    single = identity(GoType.basic(gotypes.FLOAT32))
    assert single(struct.pack("<f", -0.0)) == single(struct.pack("<f", 0.0))


def test_strings_compare_by_content():
    memory = SegmentMemory([(0x1000, b"hello"), (0x2000, b"hello"), (0x3000, b"help!")])
    key = identity(GoType.basic(gotypes.STRING), memory)
    assert key(struct.pack("<QQ", 0x1000, 5)) == key(struct.pack("<QQ", 0x2000, 5))
    assert key(struct.pack("<QQ", 0x1000, 5)) != key(struct.pack("<QQ", 0x3000, 5))
    assert key(struct.pack("<QQ", 0, 0)) == key(struct.pack("<QQ", 0x1000, 0))
    with pytest.raises(UndecidableEquality):
        key(struct.pack("<QQ", 0x9000, 5))      # unreadable: not "equal to nothing"


def test_structs_compare_field_by_field_without_padding_or_blank_fields():
    point = GoType.struct("main.P", 16, (StructField("X", GoType.basic(gotypes.INT32), 0),
                                         StructField("_", GoType.basic(gotypes.INT32), 4),
                                         StructField("F", GoType.basic(gotypes.FLOAT64), 8)))
    key = identity(point)
    assert key(struct.pack("<iid", 7, 1, 0.0)) == key(struct.pack("<iid", 7, 2, -0.0))
    assert key(struct.pack("<iid", 7, 1, 1.0)) != key(struct.pack("<iid", 8, 1, 1.0))
    assert key(struct.pack("<iid", 7, 1, math.nan)) is NOT_SELF_EQUAL
    pair = identity(GoType.array_of(GoType.basic(gotypes.FLOAT64), 2))
    assert pair(struct.pack("<dd", -0.0, 1.0)) == pair(struct.pack("<dd", 0.0, 1.0))


def test_no_key_type_is_undecidable():
    raw = identity(None)
    with pytest.raises(UndecidableEquality):
        raw(b"\x00" * 8)


@pytest.mark.parametrize("start_bucket", [2 ** 64 - 1, 2 ** 31])
def test_a_corrupt_start_bucket_stops_the_walk(start_bucket):
    case = test_classic.Case("go1.22.10", "iterating")
    iterator = classic.decode_iterator(case.memory, case.hiter, case.layout)
    iterator.fields["startBucket"] = start_bucket            # hiter-show --force on garbage
    assert classic.iterator.buckets_remaining(iterator.fields) <= 1 << iterator.fields["B"]
    layout = MapLayout("classic", case.layout, 22)
    prediction = for_layout(layout).predict(case.memory, iterator, case.decode(), INT64)
    assert not prediction.exact
    assert any("without coming back to startBucket" in why for why in prediction.inexact), prediction.inexact
