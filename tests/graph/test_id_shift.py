"""Enumerated ids between two enumerations (GiGL's rank rule), against mapping by original id."""

import numpy as np
import pytest

from gnn_assets.graph.id_shift import IdShift


def _enumerate(names: set[str]) -> dict[str, int]:
    return {name: i for i, name in enumerate(sorted(names))}


def _shift(before: set[str], after: set[str]) -> IdShift:
    old, new = _enumerate(before), _enumerate(after)
    return IdShift(len(old), len(new), np.array(sorted(new[n] for n in after - before), dtype=np.int64),
                   np.array(sorted(old[n] for n in before - after), dtype=np.int64))


def _graphs(seed: int, steps: int = 3):
    rng = np.random.default_rng(seed)
    names = {f"n{int(i):05d}" for i in rng.choice(10_000, 300, replace=False)}
    versions = [names]
    for _ in range(steps):
        current = set(versions[-1])
        current -= set(rng.choice(sorted(current), int(rng.integers(0, 40)), replace=False))
        current |= {f"n{int(i):05d}" for i in rng.choice(10_000, int(rng.integers(0, 40)), replace=False)}
        versions.append(current)
    return versions


@pytest.mark.parametrize("seed", range(6))
def test_ids_map_both_ways_as_the_original_ids_say(seed):
    before, after = _graphs(seed, 1)
    old, new = _enumerate(before), _enumerate(after)
    shift = _shift(before, after)
    new_ids = np.arange(len(new))
    expected = np.array([old.get(name, -1) for name in sorted(after)])
    assert np.array_equal(shift.old_of_new(new_ids), expected)
    assert np.array_equal(shift.new_of_old(np.arange(len(old))), np.array([new.get(name, -1) for name in sorted(before)]))
    again = IdShift.from_bytes(shift.to_bytes())
    assert (again.num_old, again.num_new) == (shift.num_old, shift.num_new)
    assert np.array_equal(again.added, shift.added) and np.array_equal(again.removed, shift.removed)


@pytest.mark.parametrize("seed", range(6))
def test_shifts_in_a_row_compose_into_the_shift_between_the_ends(seed):
    """A node removed and added again between the ends maps as removed-and-added (it is
    recomputed anyway); every other node maps to itself."""
    versions = _graphs(seed)
    composed = _shift(versions[0], versions[1]).then(_shift(versions[1], versions[2])).then(_shift(versions[2], versions[3]))
    first, last = _enumerate(versions[0]), _enumerate(versions[3])
    stayed = set.intersection(*versions)
    mapped = composed.old_of_new(np.arange(len(last)))
    for name, new_id in last.items():
        if name in stayed:
            assert mapped[new_id] == first[name]
        elif name not in versions[0]:
            assert mapped[new_id] == -1
    assert composed.num_old == len(first) and composed.num_new == len(last)


def test_an_identity_and_an_impossible_shift():
    assert np.array_equal(IdShift.identity(5).old_of_new(np.array([0, 4])), [0, 4])
    with pytest.raises(ValueError, match="cannot add"):
        IdShift(5, 5, np.array([1]), np.zeros(0, np.int64))
