"""Tests of the seeded room-scene generator."""

import math
import warnings

import numpy as np
import pytest

from sketch_explorer.datasets.rooms import (
    CAT_PARTS,
    NEW_OBJECT_MODULE,
    ROOM_ATTRIBUTES,
    ROOM_MODULES,
    raw_room_attributes,
    room_scene,
    room_year,
    scenes_table,
)
from sketch_explorer.graph import CommunicationGraph


@pytest.fixture(params=[0, 1, 7, 12345])
def seed(request):
    return request.param


@pytest.fixture(scope="module")
def year():
    return room_year(3, new_object_from_day=200)


def _signature(g: CommunicationGraph):
    rows = []
    for node in (g.output, *g.objects):
        x = () if node == g.output else tuple(g.attributes(node))
        rows.append((node, x, tuple(g.inputs(node))))
    return rows


def test_seeded_determinism(seed):
    a, b = room_scene(seed), room_scene(seed)
    assert _signature(a.graph) == _signature(b.graph)
    assert a.raw_attributes().equals(b.raw_attributes())
    days = room_year(seed, 5)
    for d in range(5):
        assert _signature(days[d].graph) == _signature(room_scene(seed, day=d).graph)


def test_different_days_differ(seed):
    days = room_year(seed, 4)
    sigs = [_signature(s.graph) for s in days]
    assert len({repr(s) for s in sigs}) == 4


def test_scenes_validate_without_warnings(seed):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scenes = room_year(seed, 40, cat_probability=0.7, new_object_from_day=20)
        for s in scenes:
            CommunicationGraph(s.graph.to_networkx(), modules=ROOM_MODULES)
    for s in scenes:
        g = s.graph
        for node in g.objects:
            assert g.attribute_norm(node) == pytest.approx(1.0, abs=1e-12)
            assert np.all(g.attributes(node) >= 0)
            assert len(g.attributes(node)) == len(ROOM_ATTRIBUTES)
        for node in (g.output, *g.objects):
            w = [wc for _c, wc in g.inputs(node)]
            if w:
                assert sum(w) == pytest.approx(1.0, abs=1e-9)
                assert all(np.diff(w) <= 0)  # most salient first


def test_cat_parts_at_depth_three(seed):
    s = room_scene(seed, cat_probability=1.0)
    g = s.graph
    assert s.has_cat
    assert g.depth("cat") == 2
    assert g.max_depth == 3
    assert [c for c, _w in g.inputs("cat")] == ["cat_body", "cat_head", "cat_tail"]
    for part in CAT_PARTS:
        assert g.depth(part) == 3
        assert g.module(part) == part
        assert g.parents(part)[0][0] == "cat"
    raw = s.raw_attributes()
    assert raw.loc["cat", "size"] == pytest.approx(raw.loc[list(CAT_PARTS), "size"].sum())

    no_cat = room_scene(seed, cat_probability=0.0)
    assert not no_cat.has_cat and "cat" not in no_cat.graph and no_cat.graph.max_depth == 2


def test_cat_probability_leaves_other_objects_alone(seed):
    with_cat = room_scene(seed, day=3, cat_probability=1.0).raw_attributes()
    without = room_scene(seed, day=3, cat_probability=0.0).raw_attributes()
    others = [n for n in with_cat.index if not n.startswith("cat")]
    cols = list(ROOM_ATTRIBUTES)
    assert with_cat.loc[others, cols].equals(without.loc[others, cols])


def test_weights_are_salience_shares(seed):
    s = room_scene(seed, cat_probability=1.0, lamp_probability=1.0)
    raw = s.raw_attributes()
    for consumer in (s.graph.output, "cat"):
        children, w = zip(*s.graph.inputs(consumer))
        expected = np.sqrt(raw.loc[list(children), "size"].to_numpy())
        np.testing.assert_allclose(w, expected / expected.sum())


def test_raw_attributes_round_trip(seed):
    s = room_scene(seed, cat_probability=1.0)
    raw = s.raw_attributes()
    for node in s.graph.objects:
        back = raw_room_attributes(s.graph.attributes(node))
        for name in ROOM_ATTRIBUTES:
            assert back[name] == pytest.approx(raw.loc[node, name], abs=1e-12)
        assert raw.loc[node, "effective_weight"] == pytest.approx(
            s.graph.effective_weight(node)
        )
    assert 2 <= s.counts()["wall"] <= 4 and s.counts()["window"] <= 2


def test_year_statistics_are_plausible(year):
    # each share is a binomial proportion; allow 4 standard deviations
    table = scenes_table(year)
    n = len(table)
    assert n == 365
    tol = 4 * math.sqrt(0.25 / n)
    assert abs(table["has_cat"].mean() - 0.5) < tol
    assert abs((table["time_of_day"] == "night").mean() - 0.5) < tol
    assert abs(table["has_lamp"].mean() - 0.5) < tol
    # walls: uniform on {2, 3, 4}, variance 2/3; windows: uniform on {0, 1, 2}, variance 2/3
    assert abs(table["n_wall"].mean() - 3) < 4 * math.sqrt(2 / 3 / n)
    assert abs(table["n_window"].mean() - 1) < 4 * math.sqrt(2 / 3 / n)
    assert table["n_cat_tail"].equals(table["n_cat"])

    # light: the two times of day never overlap in brightness
    morning = table.loc[table["time_of_day"] == "morning", "brightness"]
    night = table.loc[table["time_of_day"] == "night", "brightness"]
    assert morning.min() >= 0.6 and night.max() <= 0.3 + 0.25
    wall_light = [s.raw_attributes().query("module == 'wall'")["brightness"] for s in year]
    assert all((w == s.brightness).all() for w, s in zip(wall_light, year))


def test_the_cat_is_the_same_cat_all_year(year):
    furs = {
        tuple(s.raw_attributes().loc["cat", ["red", "green", "blue"]]) for s in year if s.has_cat
    }
    assert len(furs) == 1


def test_new_object_appears_only_from_its_day(year):
    days = [s.day for s in year if s.has_new_object]
    assert days == list(range(200, 365))
    for s in year:
        assert (NEW_OBJECT_MODULE in s.graph) == s.has_new_object
        assert s.counts()[NEW_OBJECT_MODULE] == int(s.has_new_object)
    assert s.graph.depth(NEW_OBJECT_MODULE) == 2

    # with a probability, only some later days; never before
    sparse = room_year(3, 300, new_object_from_day=100, new_object_probability=0.5)
    days = [s.day for s in sparse if s.has_new_object]
    assert min(days) >= 100 and 0 < len(days) < 200

    # adding the new object leaves the rest of the day's scene unchanged
    plain = room_year(3, 365)
    for d in (199, 250):
        a = plain[d].raw_attributes()[list(ROOM_ATTRIBUTES)]
        b = year[d].raw_attributes()[list(ROOM_ATTRIBUTES)]
        assert a.equals(b.drop(index=NEW_OBJECT_MODULE, errors="ignore").loc[a.index])

    # a scene without a day never holds it
    assert not room_scene(3, new_object_from_day=0).has_new_object


def test_errors():
    with pytest.raises(ValueError, match="cat_probability must lie in \\[0, 1\\]; got 1.5"):
        room_scene(0, cat_probability=1.5)
    with pytest.raises(ValueError, match="seed must be >= 0; got -3"):
        room_scene(-3)
    with pytest.raises(TypeError, match="day must be an int; got str"):
        room_scene(0, day="monday")
    with pytest.raises(ValueError, match="n_days must be >= 1; got 0"):
        room_year(0, 0)
    with pytest.raises(ValueError, match="new_object_from_day must be >= 0; got -1"):
        room_year(0, 3, new_object_from_day=-1)
    with pytest.raises(TypeError, match="RoomScene"):
        scenes_table([1])
    with pytest.raises(ValueError, match="8 entries"):
        raw_room_attributes(np.ones(3))
