"""Batch and Dask ingestion (resumable), emerging concepts, a learned module, the knowledge
graph and its click handler."""

import networkx as nx
import numpy as np
import pytest

from sketch_explorer import MatrixBank, sketch_graph
from sketch_explorer.datasets import load_digits_network, room_year
from sketch_explorer.recovery import estimate_frequency
from sketch_explorer.repository import (
    DatasetSource,
    KnowledgeExplorer,
    SketchRepository,
    cluster_sketches,
    digits_source,
    draw_knowledge_graph,
    emerging_concepts,
    graph_with_module,
    ingest,
    ingest_dask,
    knn_graph,
    learn_module,
    rooms_source,
)


@pytest.fixture(scope="module")
def year():
    return room_year(2, 200, new_object_from_day=100, new_object_probability=0.6)


def _repo(tmp_path, d=1024, name="r.sqlite"):
    return SketchRepository(tmp_path / name, MatrixBank(d, "fast", seed=0))


class Interrupt(Exception):
    pass


def test_interrupted_job_resumes_and_skips_what_is_stored(tmp_path, year):
    source = rooms_source(year[:40])
    calls = []

    def failing(key):
        calls.append(key)
        if len(calls) == 25:
            raise Interrupt("stop")
        return source.make(key)

    with _repo(tmp_path) as repo:
        with pytest.raises(Interrupt):
            ingest(repo, DatasetSource("rooms", source.keys, failing), batch_size=10,
                   progress=False)
        assert len(repo) == 20  # two whole batches committed, the third not at all
        report = ingest(repo, source, batch_size=10, progress=False)
        assert (report.added, report.skipped) == (20, 20) and len(repo) == 40
        assert ingest(repo, source, progress=False).added == 0


def test_dask_local_scheduler_matches_serial(tmp_path):
    source = digits_source(0, range(60))
    with _repo(tmp_path, name="a.sqlite") as a, _repo(tmp_path, name="b.sqlite") as b:
        ingest(a, source, batch_size=16, progress=False)
        report = ingest_dask(b, source, batch_size=16, progress=False)
        assert report.added == 60 and report.batches == 4
        ta = a.table().set_index("input_id")
        tb = b.table().set_index("input_id").loc[ta.index]
        for key in ("0", "17", "59"):
            np.testing.assert_array_equal(a.sketch(a.find(key)).values,
                                          b.sketch(b.find(key)).values)
        assert tb["label"].tolist() == ta["label"].tolist()


def test_emerging_concept_is_found_after_its_onset(tmp_path, year):
    """The plant appears from day 100 on 60% of days; the novelty of its sketches outside the
    span of the first 80 days' sketches finds it. The threshold allows a 5% chance of any
    false alarm; a few plant days whose plant is tiny may stay below it."""
    with _repo(tmp_path) as repo:
        ingest(repo, rooms_source(year), progress=False)
        times = repo.table()["time"].to_numpy()
        concepts, table = emerging_concepts(repo, times, reference_until=80)
        plant = np.array([s.has_new_object for s in year])
        assert len(concepts) == 1
        c = concepts[0]
        members = np.isin(repo.ids(), c.members)
        assert c.onset >= 100
        assert plant[members].mean() >= 0.95  # precision
        assert members[plant].mean() >= 0.8  # recall
        assert table["novel"].sum() == c.size
        # plain k-means of the overall sketches does not isolate the plant (shown, not hidden)
        labels = cluster_sketches(repo, 4)
        assert max(plant[labels == k].mean() for k in range(4)) < 0.95


def test_learned_module_objects_appear_in_new_sketches():
    net = load_digits_network(0)
    images = np.array([net.image(i).ravel() for i in range(net.n_images)])
    labels = np.array([net.label(i) for i in range(net.n_images)])
    train = net.train_indices_
    module = learn_module(images[train], labels[train] == 7, "learned_7", weight=0.3)
    bank = MatrixBank(1024, "fast", seed=0)
    test = net.test_indices_[:60]
    est, fired = [], []
    for i in test:
        g, f = module.extend(net.graph(int(i)), images[i])
        fired.append(f)
        est.append(estimate_frequency(sketch_graph(g, bank).overall, bank, "learned_7", 2,
                                      0.3).value)
    est, fired = np.array(est), np.array(fired)
    assert fired.sum() >= 3 and (~fired).sum() >= 3
    # Theorem 3(i): about 1 where the module fired, about 0 elsewhere (noise ~0.2 at d=1024
    # for w = 0.3, plus a shared offset; the groups' means must be about 1 apart)
    assert 0.6 <= est[fired].mean() - est[~fired].mean() <= 1.4


def test_graph_with_module_keeps_weights_summing_to_one():
    g = load_digits_network(0).graph(0)
    h = graph_with_module(g, "extra", [1.0, 0.5], 0.2)
    assert sum(w for _c, w in h.inputs(h.output)) == pytest.approx(1.0)
    assert h.effective_weight("extra") == pytest.approx(0.2)
    with pytest.raises(ValueError, match="already has a node named 'extra'"):
        graph_with_module(h, "extra", [1.0], 0.2)


def test_knowledge_graph_and_click(tmp_path):
    with _repo(tmp_path) as repo:
        ingest(repo, digits_source(0, range(40)), progress=False, store_graphs=True)
        G = knn_graph(repo, k=3)
        assert isinstance(G, nx.Graph) and G.number_of_nodes() == 40
        assert all(G.degree(n) >= 3 for n in G)
        fig = draw_knowledge_graph(G)
        assert len(fig.data) == 2 and len(fig.data[1].x) == 40
        ex = KnowledgeExplorer(repo, G, k=3)
        first = int(repo.ids()[0])
        ex.select(first)  # what a click does
        assert ex.selected == first and "<table" in ex.neighbours.value
        assert len(ex.graph_figure.data[1].x) == len(repo.graph("0")) + 1
        # a click on a sketch that vanished shows the error in the widget
        ex._on_click(ex.figure.data[1], type("P", (), {"point_inds": [0]})(), None)
        repo.delete([first])
        ex._on_click(ex.figure.data[1], type("P", (), {"point_inds": [0]})(), None)
        assert "error" in ex.status.value
