"""ModelScope API-Inference embeddings for LangChain: batched, ordered, bounded, typed.

Texts go out in batches of ``batch_size`` through the shared HTTP core (one token resolution,
one error tree, retries per request). Each answer is checked before it is trusted: one vector
per text, placed by its ``index``, all of one dimension. A service that answers anything else
gets a typed error, never a misaligned list of vectors.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import importlib
import sys
import weakref
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Literal, Protocol

import httpx
from langchain_core.embeddings import Embeddings
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, field_validator, model_validator
from typing_extensions import Self

from langchain_modelscope._client import (
    DEFAULT_MAX_RETRIES,
    APIResponse,
    ModelScopeClient,
    RateLimitInfo,
    resolve_base_url,
)
from langchain_modelscope._core_owner import CoreOwner
from langchain_modelscope._governor import MaxConcurrentRequests
from langchain_modelscope.errors import (
    APIError,
    BadRequestError,
    EmbeddingInputError,
    EmbeddingResponseError,
    parse_error_body,
)

__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "EmbeddingInputError",
    "EmbeddingResponseError",
    "ModelScopeEmbeddings",
]

#: The largest of the Qwen3-Embedding family in use on API-Inference (4096 dimensions).
#: Ids churn: nothing here depends on this one staying served.
DEFAULT_EMBEDDING_MODEL: Final = "Qwen/Qwen3-Embedding-8B"

#: Every request costs one call of a daily quota, and fewer, larger requests are faster, so
#: batches are large; 64 short texts stay far below common request-size limits. A host that caps
#: inputs per call lower (text-embeddings-inference defaults to 32) answers 400, and that error
#: says to lower batch_size.
DEFAULT_BATCH_SIZE: Final = 64

#: The service promises one request at a time and throttles the rest (a retried 429), so only
#: a few batches overlap by default; dedicated deployments usually take more.
DEFAULT_MAX_CONCURRENCY: Final = 4

_PATH: Final = "embeddings"
_BIG_ENDIAN: Final = sys.byteorder == "big"
#: Placeholder for a vector not yet seen in an answer (compared by identity).
_UNSET: Final[list[float]] = []


class _ProgressBar(Protocol):
    def update(self, n: int) -> object: ...

    def close(self) -> None: ...


def _tqdm() -> Any:
    """tqdm's class; imported only when a bar is wanted, since it is not a dependency."""
    try:
        return importlib.import_module("tqdm.auto").tqdm
    except ImportError as exc:
        raise ImportError(
            "show_progress=True needs the 'tqdm' package, which langchain-modelscope does not "
            "depend on: pip install tqdm (or leave show_progress off)"
        ) from exc


@dataclass(frozen=True, slots=True)
class _Batch:
    """One request's share of a job: ``texts`` are the job's items ``start`` onwards."""

    number: int
    count: int
    start: int
    texts: Sequence[str]

    @property
    def indexes(self) -> range:
        return range(self.start, self.start + len(self.texts))

    def describe(self) -> str:
        last = self.start + len(self.texts) - 1
        span = f"text {self.start}" if last == self.start else f"texts {self.start}-{last}"
        return f"embedding batch {self.number + 1} of {self.count} ({span})"


def _check_texts(texts: Sequence[str]) -> None:
    """Refuse, before any call, what would otherwise come back as a meaningless vector.

    A str where the list belongs would be sent as one text per character: a `TypeError`.
    """
    if isinstance(texts, (str, bytes)) or not isinstance(texts, Sequence):
        hint = (
            ": wrap one text in a list, or use embed_query()"
            if isinstance(texts, (str, bytes))
            else ""
        )
        raise TypeError(
            f"texts must be a list of str, got {type(texts).__name__} {_preview(texts)}{hint}"
        )
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise EmbeddingInputError(
                f"text {index} is a {type(text).__name__}, not a str", index=index
            )
        if not text or text.isspace():
            raise EmbeddingInputError(
                f"text {index} is empty or only whitespace: there is nothing to embed. "
                "Drop such texts (often a text splitter's leftovers) before embedding.",
                index=index,
            )


def _preview(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _annotate(error: APIError, batch: _Batch, batch_size: int) -> None:
    """Say which batch failed, keeping the error's own type (and identity) for callers."""
    if hasattr(error, "batch_index"):
        return
    error.batch_index = batch.number  # type: ignore[attr-defined]
    error.batch_count = batch.count  # type: ignore[attr-defined]
    error.batch_range = batch.indexes  # type: ignore[attr-defined]
    where = f"[{batch.describe()}"
    if type(error) is BadRequestError and len(batch.texts) > 1:
        where += f"; if the service caps inputs per call, lower batch_size (now {batch_size})"
    # In the hint, the place is part of the message even after pickling (process pools).
    error.hint = f"{error.hint} {where}]" if error.hint else f"{where}]"
    error.args = (error._describe(),)


def _decode_base64(data: str) -> list[float]:
    """OpenAI's ``encoding_format=base64``: little-endian float32."""
    raw = base64.b64decode(data, validate=True)
    if len(raw) % 4:
        raise ValueError(f"{len(raw)} bytes is not a whole number of float32 values")
    values = array("f")
    values.frombytes(raw)
    if _BIG_ENDIAN:
        values.byteswap()
    return values.tolist()


def _as_vector(embedding: Any) -> list[float]:
    if isinstance(embedding, str):
        vector = _decode_base64(embedding)
    elif isinstance(embedding, list):
        vector = list(map(float, embedding))  # ints from some JSON writers, and a type check
    else:
        raise TypeError(f"an embedding is a {type(embedding).__name__}")
    if not vector:
        raise ValueError("an embedding is empty")
    return vector


class ModelScopeEmbeddings(CoreOwner, Embeddings):
    """Embeddings from ModelScope API-Inference (OpenAI-compatible ``/v1/embeddings``).

    Texts are sent ``batch_size`` at a time; the async methods keep up to ``max_concurrency``
    requests in flight. Vectors come back in the order of the texts. Each request is retried on
    its own (``max_retries``) when the failure passes (5xx, timeouts, rate limits); quota and
    authentication errors are raised at once. An error from one batch keeps its type (e.g.
    `QuotaExceededError`) and gains ``batch_index`` (0-based), ``batch_count`` and
    ``batch_range`` (the indexes of its texts), also named in its message.

    Setup: a token from https://modelscope.cn/my/myaccesstoken in ``MODELSCOPE_API_KEY``
    (or pass ``api_key``).

    Example:
        .. code-block:: python

            from langchain_modelscope.embeddings import ModelScopeEmbeddings

            embeddings = ModelScopeEmbeddings(model="Qwen/Qwen3-Embedding-8B")
            vector = embeddings.embed_query("What is ModelScope?")
            vectors = embeddings.embed_documents(["first text", "second text"])

            # Embeddings usually run on a dedicated deployment: give its host.
            embeddings = ModelScopeEmbeddings(
                model="Qwen/Qwen3-Embedding-0.6B",
                base_url="https://ms-ens-<id>.api-inference.modelscope.cn/v1",
                batch_size=16,
                max_concurrency=8,
                show_progress=True,  # needs tqdm installed
            )
            vectors = await embeddings.aembed_documents(many_texts)
            print(embeddings.last_ratelimit)  # calls left today, when the service says

    Empty or whitespace-only texts raise `EmbeddingInputError` before any call. A text the
    service rejects as too long is found with at most two extra one-text calls (the batch's
    longest text alone, then its shortest as a control), so the error names its index.
    """

    model_config = ConfigDict(
        populate_by_name=True,
        arbitrary_types_allowed=True,
        extra="forbid",
        protected_namespaces=(),
    )

    model: str = Field(default=DEFAULT_EMBEDDING_MODEL, alias="model_name")
    """ModelScope model id, passed through untouched."""
    dimensions: int | None = Field(default=None, gt=0)
    """Output size, sent only when set; an answer of another size is an error."""
    encoding_format: Literal["float", "base64"] = "float"
    """Sent on every request: some models answer 400 without it. ``"float"`` is what every
    ModelScope host accepts; ``"base64"`` halves the client's decoding work on hosts that take
    it (answers in either form are decoded whichever was asked)."""
    batch_size: int = Field(default=DEFAULT_BATCH_SIZE, gt=0)
    """Texts per request."""
    max_concurrency: int = Field(default=DEFAULT_MAX_CONCURRENCY, gt=0)
    """Async requests in flight at once, for this instance (per event loop)."""
    base_url: str = Field(default_factory=lambda: resolve_base_url(None), alias="api_base")
    """API root (a dedicated deployment's ``.../v1``); default ``MODELSCOPE_BASE_URL``, else
    the public endpoint."""
    timeout: float | httpx.Timeout | None = None
    """Seconds (or an ``httpx.Timeout``) per request; None: the core's defaults."""
    max_retries: int = Field(default=DEFAULT_MAX_RETRIES, ge=0)
    """Retries of one request after a passing failure; each batch has its own."""
    api_key: SecretStr | None = None
    """Token; when None, read from the environment (``MODELSCOPE_API_KEY`` first)."""
    default_headers: dict[str, str] | None = Field(default=None, repr=False)
    """Extra headers on every request (``Authorization`` is always the token's)."""
    http_client: httpx.Client | None = Field(default=None, exclude=True, repr=False)
    """Own sync client (proxies, transports); default: the core's shared pool."""
    http_async_client: httpx.AsyncClient | None = Field(default=None, exclude=True, repr=False)
    """Own async client; default: the core's shared pool for the running loop."""
    max_concurrent_requests: MaxConcurrentRequests = "auto"
    """Most calls of this token in flight at once, shared by every model of the process that
    uses it (sync and async); a call waits for a slot. ``"auto"``: 2 on the shared
    API-Inference hosts (ModelScope throttles more, for hours), no limit elsewhere; ``None``:
    no limit."""
    show_progress: bool = False
    """A tqdm bar per ``embed_documents`` call (tqdm must be installed)."""

    _last_ratelimit: RateLimitInfo | None = PrivateAttr(default=None)
    _limiters: weakref.WeakKeyDictionary[
        asyncio.AbstractEventLoop, tuple[int, asyncio.Semaphore]
    ] = PrivateAttr(default_factory=weakref.WeakKeyDictionary)
    _not_pickled: ClassVar[tuple[str, ...]] = ("_core", "_limiters")

    def __init__(self, **data: Any) -> None:
        """Validate (`CoreOwner` resolves the token, so a missing one fails before any call as
        `MissingAPIKeyError`), and check that a wanted progress bar can be drawn."""
        super().__init__(**data)
        if self.show_progress:
            _tqdm()

    def __copy__(self) -> Self:
        # A copy gets its own bound on requests in flight (it may set another max_concurrency).
        copied = super().__copy__()
        copied._limiters = weakref.WeakKeyDictionary()
        return copied

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        copied = super().__deepcopy__(memo)
        copied._limiters = weakref.WeakKeyDictionary()
        return copied

    def _after_unpickling(self) -> None:
        self._limiters = weakref.WeakKeyDictionary()

    @model_validator(mode="before")
    @classmethod
    def _old_argument_names(cls, values: Any) -> Any:
        """``model_id=`` (langchain-modelscope-integration's spelling) is taken as ``model``."""
        if isinstance(values, dict) and ("model_id" in values or "model_revision" in values):
            from langchain_modelscope._compat import EMBEDDINGS_RENAMES, renamed

            return renamed(values, "ModelScopeEmbeddings", EMBEDDINGS_RENAMES)
        return values

    @field_validator("base_url")
    @classmethod
    def _normalise_base_url(cls, value: str) -> str:
        return resolve_base_url(value)

    @property
    def last_ratelimit(self) -> RateLimitInfo | None:
        """The ``modelscope-ratelimit-*`` headers of the latest answer that carried them."""
        return self._last_ratelimit

    # -- the LangChain interface --

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order; batches are sent one after another."""
        return self._embed(texts, self.show_progress)

    def embed_query(self, text: str) -> list[float]:
        """One vector; no progress bar for a single text."""
        return self._embed([text], False)[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order; up to ``max_concurrency`` batches at once."""
        return await self._aembed(texts, self.show_progress)

    async def aembed_query(self, text: str) -> list[float]:
        """One vector; no progress bar for a single text."""
        return (await self._aembed([text], False))[0]

    # -- shared parts --

    def _plan(self, texts: Sequence[str]) -> list[_Batch]:
        _check_texts(texts)
        size = self.batch_size
        count = -(-len(texts) // size)
        return [
            _Batch(number, count, start, texts[start : start + size])
            for number, start in enumerate(range(0, len(texts), size))
        ]

    def _body(self, texts: Sequence[str]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "input": texts,
            "encoding_format": self.encoding_format,
        }
        if self.dimensions is not None:
            body["dimensions"] = self.dimensions
        return body

    def _progress(self, total: int, wanted: bool) -> _ProgressBar | None:
        if not wanted:
            return None
        bar: _ProgressBar = _tqdm()(total=total, unit="text", desc="Embedding")
        return bar

    def _vectors(self, response: APIResponse, batch: _Batch) -> list[list[float]]:
        """The batch's vectors in the order of its texts, or `EmbeddingResponseError`."""
        if response.ratelimit is not None:
            self._last_ratelimit = response.ratelimit
        payload = response.data
        data = payload.get("data") if isinstance(payload, dict) else None
        size = len(batch.texts)

        def fail(problem: str) -> EmbeddingResponseError:
            return EmbeddingResponseError(
                problem,
                status_code=response.status_code,
                request_id=response.request_id,
                model=self.model,
            )

        if not isinstance(data, list):
            said = parse_error_body(payload)[0] if isinstance(payload, dict) else ""
            raise fail(f"the answer has no 'data' list{': ' + said if said else ''}")
        if len(data) != size:
            raise fail(f"{size} texts were sent but {len(data)} vectors came back")
        vectors: list[list[float]] = [_UNSET] * size
        for item in data:
            index = item.get("index") if isinstance(item, dict) else None
            if type(index) is not int or not 0 <= index < size or vectors[index] is not _UNSET:
                raise fail(f"a vector has index {index!r}; each of 0..{size - 1} must appear once")
            try:
                vectors[index] = _as_vector(item.get("embedding"))
            except (TypeError, ValueError, binascii.Error) as exc:
                raise fail(f"the vector at index {index} is unusable: {exc}") from exc
        dimension = len(vectors[0])
        for index, vector in enumerate(vectors):
            if len(vector) != dimension:
                raise fail(
                    f"mixed dimensions: vector 0 has {dimension}, vector {index} has {len(vector)}"
                )
        if self.dimensions is not None and dimension != self.dimensions:
            raise fail(
                f"{self.dimensions} dimensions were asked for but {dimension} came back: this "
                "model or host ignores 'dimensions'; leave it unset"
            )
        return vectors

    def _culprit_error(self, index: int, error: BadRequestError) -> EmbeddingInputError:
        return EmbeddingInputError(
            f"text {index} cannot be embedded by {self.model}: the service refuses it even "
            f"alone (too long?). It said of the batch: {error.message}",
            index=index,
            status_code=error.status_code,
            request_id=error.request_id,
            model=self.model,
            body=error.body,
        )

    def _same_dimension(
        self, expected: int | None, vectors: list[list[float]], batch: _Batch
    ) -> int:
        """The job's dimension so far; a batch that disagrees fails the job at once."""
        dimension = len(vectors[0])
        if expected is not None and dimension != expected:
            error = EmbeddingResponseError(
                f"mixed dimensions across batches: earlier vectors have {expected}, "
                f"this batch's have {dimension}",
                status_code=200,
                model=self.model,
            )
            _annotate(error, batch, self.batch_size)
            raise error
        return dimension

    # -- sync --

    def _embed(self, texts: Sequence[str], progress: bool) -> list[list[float]]:
        if not texts:
            return []
        batches = self._plan(texts)
        client = self.client
        bar = self._progress(len(texts), progress)
        out: list[list[float]] = []
        dimension: int | None = None
        try:
            for batch in batches:
                vectors = self._embed_batch(client, batch)
                dimension = self._same_dimension(dimension, vectors, batch)
                out.extend(vectors)
                if bar is not None:
                    bar.update(len(batch.texts))
        finally:
            if bar is not None:
                bar.close()
        return out

    def _embed_batch(self, client: ModelScopeClient, batch: _Batch) -> list[list[float]]:
        try:
            response = client.post(_PATH, self._body(batch.texts), model=self.model)
            return self._vectors(response, batch)
        except BadRequestError as error:
            if type(error) is BadRequestError and len(batch.texts) > 1:
                culprit = self._probe(client, batch)
                if culprit is not None:
                    found = self._culprit_error(culprit, error)
                    _annotate(found, batch, self.batch_size)
                    raise found from error
            _annotate(error, batch, self.batch_size)
            raise
        except APIError as error:
            _annotate(error, batch, self.batch_size)
            raise

    def _probe(self, client: ModelScopeClient, batch: _Batch) -> int | None:
        """After a 400 for a whole batch: is it one text? The longest is tried alone; if it is
        refused too, the shortest alone tells a text's fault from the request's."""
        order = sorted(range(len(batch.texts)), key=lambda i: len(batch.texts[i]))
        longest, shortest = order[-1], order[0]
        try:
            client.post(_PATH, self._body([batch.texts[longest]]), model=self.model)
            return None
        except BadRequestError as alone:
            if type(alone) is not BadRequestError:
                return None
            try:
                client.post(_PATH, self._body([batch.texts[shortest]]), model=self.model)
            except APIError:
                return None
            return batch.start + longest
        except APIError:
            return None

    # -- async --

    def _limiter(self) -> asyncio.Semaphore:
        """This instance's bound on requests in flight, one per event loop."""
        loop = asyncio.get_running_loop()
        entry = self._limiters.get(loop)
        if entry is None or entry[0] != self.max_concurrency:
            entry = (self.max_concurrency, asyncio.Semaphore(self.max_concurrency))
            self._limiters[loop] = entry
        return entry[1]

    async def _aembed(self, texts: Sequence[str], progress: bool) -> list[list[float]]:
        if not texts:
            return []
        batches = self._plan(texts)
        client = self.client
        limiter = self._limiter()
        bar = self._progress(len(texts), progress)

        failed = False
        dimension: int | None = None

        async def run(batch: _Batch) -> list[list[float]]:
            nonlocal failed, dimension
            async with limiter:
                if failed:  # woken by the failed batch's slot: send nothing more
                    return []
                try:
                    vectors = await self._aembed_batch(client, batch)
                    dimension = self._same_dimension(dimension, vectors, batch)
                except BaseException:
                    failed = True  # set before the slot is released
                    raise
            if bar is not None:
                bar.update(len(batch.texts))
            return vectors

        try:
            if len(batches) == 1:
                results = [await run(batches[0])]
            else:
                tasks = [asyncio.ensure_future(run(batch)) for batch in batches]
                try:
                    results = list(await asyncio.gather(*tasks))
                except BaseException:
                    # One batch failed (or we were cancelled): send nothing more.
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                    raise
        finally:
            if bar is not None:
                bar.close()
        return [vector for vectors in results for vector in vectors]

    async def _aembed_batch(self, client: ModelScopeClient, batch: _Batch) -> list[list[float]]:
        try:
            response = await client.apost(_PATH, self._body(batch.texts), model=self.model)
            return self._vectors(response, batch)
        except BadRequestError as error:
            if type(error) is BadRequestError and len(batch.texts) > 1:
                culprit = await self._aprobe(client, batch)
                if culprit is not None:
                    found = self._culprit_error(culprit, error)
                    _annotate(found, batch, self.batch_size)
                    raise found from error
            _annotate(error, batch, self.batch_size)
            raise
        except APIError as error:
            _annotate(error, batch, self.batch_size)
            raise

    async def _aprobe(self, client: ModelScopeClient, batch: _Batch) -> int | None:
        order = sorted(range(len(batch.texts)), key=lambda i: len(batch.texts[i]))
        longest, shortest = order[-1], order[0]
        try:
            await client.apost(_PATH, self._body([batch.texts[longest]]), model=self.model)
            return None
        except BadRequestError as alone:
            if type(alone) is not BadRequestError:
                return None
            try:
                await client.apost(_PATH, self._body([batch.texts[shortest]]), model=self.model)
            except APIError:
                return None
            return batch.start + longest
        except APIError:
            return None
