"""04 - RAG prototype: local documents, ModelScopeEmbeddings, InMemoryVectorStore, cited answer.

Run:  python cookbook/04_rag.py
      (ModelScope when MODELSCOPE_API_KEY is set, else the local emulator; 2 embedding calls
      and 1 chat call). Needs numpy (InMemoryVectorStore's cosine similarity):
      pip install "langchain-modelscope-api[rag]"

Embeddings on ModelScope: the shared free host has been reported both to serve and not to serve
/v1/embeddings; dedicated deployments (https://ms-ens-<id>.api-inference.modelscope.cn/v1) do.
Set COOKBOOK_EMBEDDING_BASE_URL to such a host (and COOKBOOK_EMBEDDING_MODEL to its model id) if
the shared host refuses. Offline, the emulator's embeddings are lexical (texts sharing words
point the same way): good enough to retrieve, and its chat answer is canned.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import _runtime
from langchain_core.documents import Document
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.vectorstores import InMemoryVectorStore

from langchain_modelscope.chat_models import ChatModelScope
from langchain_modelscope.embeddings import ModelScopeEmbeddings
from langchain_modelscope.errors import APIStatusError

DATA_DIR = Path(__file__).resolve().parent / "data"
QUESTION = "When does the daily quota reset, and do unused calls carry over?"

PROMPT = ChatPromptTemplate.from_messages(
    [
        (
            "system",
            "Answer from the numbered sources only, in two sentences at most, and cite them "
            "like [1]. If they do not say, answer that you do not know.\n\n{sources}",
        ),
        ("human", "{question}"),
    ]
)


def load_documents() -> list[Document]:
    """One Document per paragraph of cookbook/data/*.txt, its file name as the source."""
    documents = []
    for path in sorted(DATA_DIR.glob("*.txt")):
        for number, paragraph in enumerate(path.read_text(encoding="utf-8").split("\n\n")):
            text = " ".join(paragraph.split())
            # Empty texts are refused before any call (EmbeddingInputError): skip them here.
            if text:
                documents.append(
                    Document(text, metadata={"source": path.name, "paragraph": number})
                )
    return documents


def main() -> None:
    rt = _runtime.setup()
    embeddings_url = os.environ.get("COOKBOOK_EMBEDDING_BASE_URL") or rt.base_url
    # Texts go out batch_size at a time, and each request costs one call of the daily quota:
    # the few paragraphs here take one call. encoding_format="float" is always sent (ModelScope
    # rejected requests without it).
    embeddings = ModelScopeEmbeddings(
        model=_runtime.EMBEDDING_MODEL, base_url=embeddings_url, api_key=rt.api_key
    )
    llm = ChatModelScope(model=_runtime.CHAT_MODEL, temperature=0, **rt.connection)

    documents = load_documents()
    _runtime.section(f"indexing {len(documents)} paragraphs of {DATA_DIR.name}/*.txt")
    try:
        store = InMemoryVectorStore.from_documents(documents, embedding=embeddings)
        hits = store.similarity_search_with_score(QUESTION, k=2)
    except APIStatusError as error:
        # A typed error with the server's message: most likely the host serves no embeddings.
        print(f"embeddings failed: {error}", file=sys.stderr)
        print(
            "Set COOKBOOK_EMBEDDING_BASE_URL to a dedicated deployment's .../v1 URL and "
            "COOKBOOK_EMBEDDING_MODEL to its model id, then run again.",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    ratelimit = embeddings.last_ratelimit
    if ratelimit is not None:
        print(f"embedding calls left today for this model: {ratelimit.model_requests_remaining}")

    _runtime.section(f"retrieved for: {QUESTION}")
    sources = []
    for rank, (document, score) in enumerate(hits, start=1):
        source = document.metadata["source"]
        sources.append(source)
        print(f"  [{rank}] {source} (similarity {score:.2f}): {document.page_content[:90]}...")

    _runtime.section("answer")
    numbered = "\n\n".join(
        f"[{i}] ({d.metadata['source']}) {d.page_content}" for i, (d, _) in enumerate(hits, start=1)
    )
    answer = (PROMPT | llm).invoke({"sources": numbered, "question": QUESTION})
    print(f"  {_runtime.one_line(answer.text)}")
    _runtime.final(f"{answer.text} | sources: {', '.join(dict.fromkeys(sources))}")


if __name__ == "__main__":
    main()
