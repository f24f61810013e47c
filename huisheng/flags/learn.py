"""Routing that learns: a text → unit classifier trained on the district's own
settled flags and on labelled files (``huisheng routing train``).

Features are the character n-grams (1 to 3 characters) of the text the router
sees (normalized, mentions masked), within runs of letters and digits, digit
runs folded to ``0``: Chinese needs no word segmenter for this, and place,
institution and department words are all caught as n-grams.  Weighted by TF-IDF
(sublinear tf, smoothed idf, l2 norm), classified by a linear SVM
(scikit-learn's ``LinearSVC``, one against the rest).  The confidence is the
softmax of the SVM's scores with a temperature fitted on cross-validated
scores of the training examples, so 0.8 means "right about 8 times in 10" on
text like the training text.

Training needs scikit-learn; using a model needs numpy only: the decide step
scores the texts of a batch itself (their n-grams looked up in the vocabulary,
their weights summed), so a prediction costs tens of microseconds.

The model file is data, never code: one ``.npz`` (numpy arrays and a JSON
header) read with ``allow_pickle=False``.  It records when it was trained, on
how many examples of which unit, from what, and the library versions; a file
of another format version is refused with a clear error.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import re
import tempfile
import warnings
from collections import Counter
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain, islice, repeat
from operator import add
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from huisheng.errors import HuishengError

FORMAT = "huisheng-routing-model"
#: bumped whenever the features or the arrays change meaning; older files are refused
FORMAT_VERSION = 1
NGRAMS = (1, 3)
#: the SVM's regularisation (scikit-learn's default; l2-normalized TF-IDF rows)
SVM_C = 1.0
#: folds whose held-out scores fit the confidence's temperature (and give cv_accuracy)
CALIBRATION_FOLDS = 3
#: n-grams seen in a single example are dropped from large training sets (noise, size)
MIN_DF_FROM = 2000
#: the most frequent n-grams kept at most: bounds the file and the memory (n-grams × units)
MAX_FEATURES = 200_000
#: texts scored together by predict_many
PREDICT_CHUNK = 64

_DIGITS = re.compile(r"\d+")
_RUNS = re.compile(r"[^\W_]+")
#: n-grams holding these read as fragments, not words, in a routing reason
_PARTICLES = re.compile("[的了吗呢啊吧么]")


class RoutingModelError(HuishengError):
    """A routing model file is missing, not a model, or of another format version."""

    def __init__(self, path: Path | str, message: str):
        self.path = str(path)
        super().__init__(f"{path}: {message}")


def features(text: str) -> list[str]:
    """The character n-grams of ``text``, within runs of letters and digits
    (punctuation, spaces, emoji and masked mentions split runs): a run's
    characters, then its pairs, then its triples."""
    out: list[str] = []
    for run in _RUNS.findall(_DIGITS.sub("0", text)):
        out.extend(run)
        if len(run) > 1:  # pairs and triples joined in C, not sliced one by one
            pairs = list(map(add, run, run[1:]))
            out.extend(pairs)
            out.extend(map(add, pairs, run[2:]))
    return out


@dataclass(frozen=True)
class Prediction:
    unit: str
    confidence: float
    #: the words of the text that weighed most for ``unit``, strongest first
    terms: tuple[str, ...] = ()


@dataclass
class RoutingModel:
    units: tuple[str, ...]
    vocabulary: dict[str, int]
    #: per feature
    idf: np.ndarray
    #: features × units
    weights: np.ndarray
    intercept: np.ndarray
    temperature: float
    meta: dict[str, Any] = field(default_factory=dict)

    # -- scoring ------------------------------------------------------------------
    # Texts are scored together with element-wise operations and sums over each
    # text's n-grams (reduceat), never a matrix product per text: OpenBLAS hands
    # a text's n-grams × units product to its threads, and on a busy machine
    # the hand-off costs more than the sums.  One text is a batch of one, so
    # scoring texts alone or together gives the same figures to the bit.

    def _vectors(self, texts: Sequence[str]) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray]:
        """Of ``texts``: those with a known n-gram (their positions), the columns
        and l2-normalized TF-IDF values of their known n-grams, text after text,
        and where each of those texts starts among them."""
        counts = [Counter(features(text)) for text in texts]
        ends = np.cumsum(np.fromiter(map(len, counts), dtype=np.intp, count=len(counts)))
        total = int(ends[-1]) if len(ends) else 0
        # the lookups in one C-level pass: a Python loop over the n-grams cost more than the rest
        found = np.fromiter(map(self.vocabulary.get, chain.from_iterable(counts), repeat(-1, total)),
                            dtype=np.intp, count=total)
        tf = np.fromiter(chain.from_iterable(c.values() for c in counts), dtype=np.float32, count=total)
        known = found >= 0
        # where each text's known n-grams end, and start, among all the known ones
        known_ends = np.concatenate(([0], np.cumsum(known)))[ends]
        starts = np.concatenate(([0], known_ends))[:-1]
        has = known_ends > starts
        columns = found[known]
        values = (1.0 + np.log(tf[known])) * self.idf[columns]
        offsets = starts[has]
        if len(offsets):
            norms = np.sqrt(np.add.reduceat(values * values, offsets))
            values = values / np.repeat(norms, (known_ends - starts)[has])
        return np.flatnonzero(has).tolist(), columns, values, offsets

    def _scores(self, columns: np.ndarray, values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """The SVM's scores of every unit (a row per text starting at ``offsets``)."""
        return np.add.reduceat(values[:, None] * self.weights[columns], offsets, axis=0) + self.intercept

    def scores(self, text: str) -> np.ndarray | None:
        """The SVM's score of every unit (None: no n-gram of the text is known)."""
        scored, columns, values, offsets = self._vectors([text])
        return self._scores(columns, values, offsets)[0] if scored else None

    def predict(self, text: str, *, terms: int = 3) -> Prediction | None:
        """The likeliest unit, its confidence and (``terms`` > 0) the words
        that weighed most for it; None when no n-gram of the text is known."""
        (found,) = self._predict_chunk([text])
        if found is None or not terms:
            return found
        return Prediction(found.unit, found.confidence, self.explain(text, found.unit, terms))

    def explain(self, text: str, unit: str, terms: int = 3) -> tuple[str, ...]:
        """The words of ``text`` that weighed most for ``unit``."""
        scored, columns, values, _ = self._vectors([text])
        if not scored or unit not in self.units:
            return ()
        return self._top_terms(text, columns, values * self.weights[columns, self.units.index(unit)], terms)

    def _top_terms(self, text: str, columns: np.ndarray, weight: np.ndarray, limit: int) -> tuple[str, ...]:
        """The words that weighed most for the unit: its strongest n-grams (of
        two characters or more, no particles) where they stand in ``text``,
        overlapping ones joined (「殡仪」「仪馆」 → 「殡仪馆」)."""
        names = self._names
        spans: list[list[Any]] = []
        for k in np.argsort(-weight)[:limit * 4]:
            if weight[k] <= 0:
                break
            term = names[columns[k]]
            start = text.find(term) if len(term) > 1 and not _PARTICLES.search(term) else -1
            if start >= 0:
                spans.append([start, start + len(term), float(weight[k])])
        merged: list[list[Any]] = []
        for start, end, w in sorted(spans):
            if merged and start < merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
                merged[-1][2] += w
            else:
                merged.append([start, end, w])
        merged.sort(key=lambda m: -m[2])
        return tuple(text[start:end] for start, end, _ in merged[:limit])

    @property
    def _names(self) -> list[str]:
        names = self.__dict__.get("_names_cache")
        if names is None:
            names = [""] * len(self.vocabulary)
            for term, j in self.vocabulary.items():
                names[j] = term
            self.__dict__["_names_cache"] = names
        return names

    def predict_many(self, texts: Iterable[str]) -> list[Prediction | None]:
        """:meth:`predict` of each text (without the words), scored together."""
        out: list[Prediction | None] = []
        texts = iter(texts)
        # in slices: the weight rows gathered (n-grams × units) stay small
        while chunk := list(islice(texts, PREDICT_CHUNK)):
            out += self._predict_chunk(chunk)
        return out

    def _predict_chunk(self, texts: list[str]) -> list[Prediction | None]:
        scored, columns, values, offsets = self._vectors(texts)
        out: list[Prediction | None] = [None] * len(texts)
        if scored:
            scores = self._scores(columns, values, offsets)
            best = scores.argmax(axis=1)
            # the softmax's share of the best unit, with the fitted temperature
            z = (scores - scores[np.arange(len(scored)), best][:, None]) * self.temperature
            confidence = 1.0 / np.exp(z).sum(axis=1)
            for i, unit, sure in zip(scored, best.tolist(), confidence.tolist()):
                out[i] = Prediction(self.units[unit], sure)
        return out

    # -- description --------------------------------------------------------------

    @property
    def trained_at(self) -> datetime | None:
        value = self.meta.get("trained_at")
        return datetime.fromisoformat(value) if value else None

    @property
    def examples(self) -> dict[str, int]:
        return dict(self.meta.get("examples", {}))


@dataclass(frozen=True)
class Learned:
    """A model in use by the router: its predictions count from ``threshold`` on."""

    model: RoutingModel
    threshold: float

    def predict(self, text: str) -> Prediction | None:
        """The model's unit and confidence (the words are asked for with :meth:`explain`)."""
        return self.model.predict(text, terms=0)

    def predict_many(self, texts: Iterable[str]) -> list[Prediction | None]:
        """:meth:`predict` of each text, all at once."""
        return self.model.predict_many(texts)

    def explain(self, text: str, unit: str) -> tuple[str, ...]:
        return self.model.explain(text, unit)


def _softmax_nll(scores: np.ndarray, truth: np.ndarray, temperature: float) -> float:
    z = scores * temperature
    z = z - z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=1))
    return float(np.mean(log_norm - z[np.arange(len(truth)), truth]))


# --- training -----------------------------------------------------------------


@dataclass(frozen=True)
class _Fitted:
    tfidf: Any
    svm: Any
    units: tuple[str, ...]


def _count(texts: Sequence[str]) -> tuple[Any, Any]:
    """The n-gram counts of ``texts`` (the analyzer run once; a sparse matrix,
    not millions of n-gram strings in memory) and the counter that made them."""
    from sklearn.feature_extraction.text import CountVectorizer

    counter = CountVectorizer(analyzer=features, dtype=np.float32, max_features=MAX_FEATURES,
                              min_df=2 if len(texts) >= MIN_DF_FROM else 1)
    return counter, counter.fit_transform(texts)


def _fit(counts: Any, labels: Sequence[str]) -> _Fitted:
    """TF-IDF weights (idf from these rows) and the SVM, on rows of n-gram counts."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.svm import LinearSVC

    tfidf = TfidfTransformer(sublinear_tf=True).fit(counts)
    svm = LinearSVC(C=SVM_C, random_state=0, max_iter=5000)
    with warnings.catch_warnings():
        # a few more iterations change no routing; the warning would only alarm
        warnings.simplefilter("ignore", ConvergenceWarning)
        # few examples of many units is a district's first weeks, not a regression problem
        warnings.filterwarnings("ignore", message="The number of unique classes")
        svm.fit(tfidf.transform(counts), list(labels))
    return _Fitted(tfidf, svm, tuple(str(c) for c in svm.classes_))


def _unit_scores(fitted: _Fitted, counts: Any) -> np.ndarray:
    scores = fitted.svm.decision_function(fitted.tfidf.transform(counts))
    if scores.ndim == 1:  # two units: one score, positive for the second
        scores = np.column_stack([-scores, scores])
    return scores


def _folds(labels: Sequence[str], k: int, seed: int = 0) -> list[int]:
    """A fold per example, every unit spread over the folds (stratified);
    a unit with fewer than ``k`` examples stays in training (fold -1)."""
    rng = np.random.default_rng(seed)
    fold = [-1] * len(labels)
    by_unit: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_unit.setdefault(label, []).append(i)
    offset = 0
    for unit in sorted(by_unit):
        rows = by_unit[unit]
        if len(rows) < k:
            continue
        for n, i in enumerate(rng.permutation(rows)):
            fold[int(i)] = (n + offset) % k
        offset += len(rows)
    return fold


def cross_predict(texts: Sequence[str], labels: Sequence[str], k: int, *, counts: Any = None, workers: int = 2,
                  pool: Executor | None = None) -> tuple[list[int], list[np.ndarray | None], list[tuple[str, ...]]]:
    """Each example scored by a model trained without its fold: (its fold, its
    scores or None when it was never held out, the units of those scores).

    ``counts`` are the n-gram counts of all ``texts`` (as training has them;
    counted here if not given).  Each fold keeps only the n-grams its own
    training rows have (as often as training asks), so its vocabulary, idf and
    weights are what training on those rows alone would give.  liblinear
    releases the GIL: the folds train side by side in ``workers`` threads (or
    in ``pool``)."""
    if pool is None:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as own:
            return cross_predict(texts, labels, k, counts=counts, pool=own)
    if counts is None:
        counts = _count(texts)[1]
    fold = _folds(labels, k)

    def one(f: int) -> tuple[list[int], np.ndarray, tuple[str, ...]]:
        from scipy.sparse import diags

        train = [i for i in range(len(labels)) if fold[i] != f]
        test = [i for i in range(len(labels)) if fold[i] == f]
        train_counts = counts[train]
        seen = np.asarray((train_counts > 0).sum(axis=0)).ravel()
        keep = diags((seen >= (2 if len(train) >= MIN_DF_FROM else 1)).astype(np.float32))
        fitted = _fit(train_counts @ keep, [labels[i] for i in train])
        return test, _unit_scores(fitted, counts[test] @ keep), fitted.units

    scores: list[np.ndarray | None] = [None] * len(labels)
    units: list[tuple[str, ...]] = [()] * len(labels)
    present = sorted({f for f in fold if f >= 0})
    for test, fold_scores, fold_units in pool.map(one, present):
        for row, i in enumerate(test):
            scores[i] = fold_scores[row]
            units[i] = fold_units
    return fold, scores, units


def _fit_temperature(scores: list[np.ndarray | None], units: list[tuple[str, ...]],
                     labels: Sequence[str]) -> float:
    """The temperature that makes the held-out softmax most likely (1.0 without held-out rows)."""
    from scipy.optimize import minimize_scalar

    rows = [(s, u.index(label)) for s, u, label in zip(scores, units, labels)
            if s is not None and label in u and len(u) > 1]
    if len(rows) < 10:
        return 1.0
    # rows of different folds may have different units (a fold lacked one); group by width
    by_width: dict[int, list[tuple[np.ndarray, int]]] = {}
    for s, t in rows:
        by_width.setdefault(len(s), []).append((s, t))
    groups = [(np.vstack([s for s, _ in g]), np.array([t for _, t in g])) for g in by_width.values()]
    total = sum(len(t) for _, t in groups)

    def loss(log_t: float) -> float:
        t = math.exp(log_t)
        return sum(_softmax_nll(s, truth, t) * len(truth) for s, truth in groups) / total

    found = minimize_scalar(loss, bounds=(math.log(0.05), math.log(200.0)), method="bounded")
    return float(math.exp(found.x))


@dataclass(frozen=True)
class Example:
    text: str
    unit: str
    #: where it came from: "flags" or a CSV file's name
    source: str = ""


def train(examples: Sequence[Example], *, now: datetime, workers: int = 2) -> RoutingModel:
    """A model from ``examples`` (texts as the router sees them).  Raises
    :class:`HuishengError` when fewer than two units have examples."""
    labels = [e.unit for e in examples]
    counts = Counter(labels)
    if len(counts) < 2:
        raise HuishengError(f"训练至少需要两个单位的样本，实际只有 {len(counts)} 个单位（{len(examples)} 条样本）")
    texts = [e.text for e in examples]
    counter, matrix = _count(texts)
    folds = min(CALIBRATION_FOLDS, max(counts.values()))
    cv_accuracy = None
    temperature = 1.0
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        final = pool.submit(_fit, matrix, labels)  # beside the folds
        if folds >= 2:
            _, scores, units = cross_predict(texts, labels, folds, counts=matrix, pool=pool)
            judged = [(s, u, label) for s, u, label in zip(scores, units, labels) if s is not None]
            if judged:
                cv_accuracy = round(sum(u[int(np.argmax(s))] == label for s, u, label in judged) / len(judged), 4)
            temperature = _fit_temperature(scores, units, labels)
        fitted = final.result()
    model = _export(counter.vocabulary_, fitted, temperature)
    model.meta = {
        "format": FORMAT, "version": FORMAT_VERSION,
        "trained_at": now.isoformat(),
        "examples": dict(sorted(counts.items())),
        "sources": dict(sorted(Counter(e.source or "?" for e in examples).items())),
        "features": {"analyzer": "char", "ngrams": list(NGRAMS), "sublinear_tf": True,
                     "min_df": counter.min_df, "max_features": MAX_FEATURES,
                     "vocabulary": len(model.vocabulary)},
        "classifier": {"kind": "LinearSVC", "C": SVM_C},
        "temperature": round(temperature, 6),
        "cv_accuracy": cv_accuracy,
        "libraries": library_versions(),
    }
    return model


def _export(vocabulary: dict[str, int], fitted: _Fitted, temperature: float) -> RoutingModel:
    """The fitted scikit-learn objects as plain arrays."""
    vocabulary = {str(term): int(j) for term, j in vocabulary.items()}
    coef = np.asarray(fitted.svm.coef_, dtype=np.float32)
    intercept = np.asarray(fitted.svm.intercept_, dtype=np.float32)
    if coef.shape[0] == 1:  # two units: mirror the one score
        coef, intercept = np.vstack([-coef, coef]), np.concatenate([-intercept, intercept])
    return RoutingModel(units=fitted.units, vocabulary=vocabulary,
                        idf=np.asarray(fitted.tfidf.idf_, dtype=np.float32),
                        weights=np.ascontiguousarray(coef.T), intercept=intercept, temperature=temperature)


def library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "numpy": np.__version__}
    for name in ("scikit-learn", "scipy", "huisheng"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "?"
    return out


# --- the file -----------------------------------------------------------------


def save(model: RoutingModel, path: Path) -> None:
    """Write ``model`` to ``path`` atomically: a reader (the daemon's decide
    step) sees the old file or the new one, never half of one."""
    path = Path(path)
    terms = "\n".join(sorted(model.vocabulary, key=model.vocabulary.__getitem__))
    header = json.dumps({**model.meta, "units": list(model.units)}, ensure_ascii=False)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise RoutingModelError(path, f"无法写入路由模型：{exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, header=np.frombuffer(header.encode("utf-8"), dtype=np.uint8),
                                terms=np.frombuffer(terms.encode("utf-8"), dtype=np.uint8),
                                idf=model.idf, weights=model.weights, intercept=model.intercept,
                                temperature=np.array([model.temperature], dtype=np.float64))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise RoutingModelError(path, f"无法写入路由模型：{exc.strerror}") from None
        raise


def read_header(path: Path) -> dict[str, Any]:
    """The model's JSON header alone (when, on what, versions), checked for format."""
    with _open(path) as data:
        return _header(path, data)


def load(path: Path) -> RoutingModel:
    """The model at ``path``; :class:`RoutingModelError` when it is missing,
    not a routing model, or of another format version."""
    with _open(path) as data:
        meta = _header(path, data)
        try:
            terms = bytes(data["terms"]).decode("utf-8")
            units = tuple(str(u) for u in meta["units"])
            idf = np.asarray(data["idf"], dtype=np.float32)
            weights = np.ascontiguousarray(data["weights"], dtype=np.float32)
            intercept = np.asarray(data["intercept"], dtype=np.float32)
            temperature = float(data["temperature"][0])
        except Exception as exc:  # a member missing, truncated or of the wrong shape
            raise RoutingModelError(path, f"路由模型文件已损坏（{type(exc).__name__}）") from None
    vocabulary = {term: j for j, term in enumerate(terms.split("\n"))} if terms else {}
    if not (len(vocabulary) == len(idf) == weights.shape[0] and weights.shape[1:] == (len(units),)
            and intercept.shape == (len(units),)):
        raise RoutingModelError(path, "路由模型文件已损坏（数组大小不一致）")
    meta = {k: v for k, v in meta.items() if k != "units"}
    return RoutingModel(units, vocabulary, idf, weights, intercept, temperature, meta)


def _open(path: Path):
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise RoutingModelError(path, "路由模型文件不存在（用 huisheng routing train 训练一个）") from None
    except IsADirectoryError:
        raise RoutingModelError(path, "应为路由模型文件，实际为文件夹") from None
    except PermissionError as exc:
        raise RoutingModelError(path, f"无法读取路由模型：{exc.strerror}") from None
    except Exception:  # whatever numpy makes of a file that is no .npz (or holds a pickle)
        raise RoutingModelError(path, "不是回声的路由模型文件") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise RoutingModelError(path, "不是回声的路由模型文件")
    return data


def _header(path: Path, data) -> dict[str, Any]:
    if "header" not in data.files:
        raise RoutingModelError(path, "不是回声的路由模型文件")
    try:
        meta = json.loads(bytes(data["header"]).decode("utf-8"))
    except Exception:
        raise RoutingModelError(path, "不是回声的路由模型文件（文件头无法解析）") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise RoutingModelError(path, "不是回声的路由模型文件")
    version = meta.get("version")
    if version != FORMAT_VERSION:
        made_by = (meta.get("libraries") or {}).get("huisheng", "?")
        raise RoutingModelError(
            path, f"路由模型格式版本为 {version}（由 huisheng {made_by} 训练），本版本只能读取版本 "
                  f"{FORMAT_VERSION}：请用 huisheng routing train 重新训练")
    return meta


# --- measuring ----------------------------------------------------------------


def metrics(truth: Sequence[str], predicted: Sequence[str | None],
            confidence: Sequence[float | None] | None = None, threshold: float | None = None) -> dict[str, Any]:
    """Accuracy, per-unit precision and recall, the confusion pairs (most
    frequent first), and with a threshold: the share of confident predictions
    and their accuracy."""
    n = len(truth)
    correct = sum(1 for t, p in zip(truth, predicted) if t == p)
    units = sorted(set(truth) | {p for p in predicted if p is not None})
    per_unit = {}
    for unit in units:
        tp = sum(1 for t, p in zip(truth, predicted) if t == unit and p == unit)
        guessed = sum(1 for p in predicted if p == unit)
        actual = sum(1 for t in truth if t == unit)
        per_unit[unit] = {"precision": round(tp / guessed, 4) if guessed else None,
                          "recall": round(tp / actual, 4) if actual else None, "support": actual}
    pairs = Counter((t, p) for t, p in zip(truth, predicted) if t != p)
    out: dict[str, Any] = {
        "rows": n, "correct": correct, "accuracy": round(correct / n, 4) if n else None,
        "units": per_unit,
        "confusion": [{"unit": t, "predicted": p, "count": c}
                      for (t, p), c in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1] or ""))],
    }
    if confidence is not None and threshold is not None:
        sure = [(t, p) for t, p, c in zip(truth, predicted, confidence) if c is not None and c >= threshold]
        out["threshold"] = {"threshold": threshold, "share": round(len(sure) / n, 4) if n else None,
                            "accuracy": round(sum(t == p for t, p in sure) / len(sure), 4) if sure else None}
    return out


def evaluate_model(model: RoutingModel, texts: Sequence[str], truth: Sequence[str],
                   threshold: float | None = None) -> dict[str, Any]:
    predictions = model.predict_many(texts)
    return metrics(truth, [p.unit if p else None for p in predictions],
                   [p.confidence if p else None for p in predictions], threshold)


def cross_validate(examples: Sequence[Example], k: int, *, workers: int = 2) -> dict[str, Any]:
    """``k``-fold cross-validation of training on ``examples`` (each fold's
    model trained on the others alone, vocabulary and weights included)."""
    labels = [e.unit for e in examples]
    if len(set(labels)) < 2:
        raise HuishengError("交叉验证至少需要两个单位的样本")
    fold, scores, units = cross_predict([e.text for e in examples], labels, k, workers=workers)
    judged = [i for i in range(len(labels)) if scores[i] is not None]
    predicted = [units[i][int(np.argmax(scores[i]))] for i in judged]
    out = metrics([labels[i] for i in judged], predicted)
    out["folds"] = k
    out["not_held_out"] = len(labels) - len(judged)
    return out


__all__ = ["Example", "Learned", "Prediction", "RoutingModel", "RoutingModelError", "cross_validate", "evaluate_model",
           "features", "load", "metrics", "read_header", "save", "train"]
