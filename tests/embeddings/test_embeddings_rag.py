"""Retrieval-augmented generation end to end, offline: ModelScopeEmbeddings fills langchain-core's
InMemoryVectorStore, a query finds the document on its subject, and ChatModelScope answers from
that document through a retrieval tool (over loopback, against the emulator).

The emulator's vectors are lexical (texts that share words point the same way), so a query that
shares a document's subject words must retrieve that document and no other.
"""

from __future__ import annotations

import pytest
from langchain.agents import create_agent
from langchain_core.documents import Document
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_core.vectorstores import InMemoryVectorStore

from langchain_modelscope.chat_models import ChatModelScope
from langchain_modelscope.embeddings import ModelScopeEmbeddings
from langchain_modelscope.testing import ModelScopeEmulator

EMBEDDING_MODEL = "Qwen/Qwen3-Embedding-0.6B"
CHAT_MODEL = "Qwen/Qwen2.5-72B-Instruct"

DOCUMENTS = {
    "volcano": "Mount Etna is an active volcano in Sicily; its lava flows and eruptions are "
    "frequent.",
    "bread": "Sourdough bread rises with a wild yeast starter and bakes in a hot oven.",
    "python": "The Python interpreter compiles source code to bytecode before running it.",
    "bees": "Honey bees pollinate flowers and store nectar as honey in the hive.",
    "tides": "Ocean tides rise and fall twice a day, pulled by the gravity of the moon.",
}

QUERIES = {
    "volcano": "Which volcano has lava eruptions?",
    "bread": "How does sourdough bread rise?",
    "python": "What does the Python interpreter do with source code?",
    "bees": "Where do bees keep their honey?",
    "tides": "What pulls the ocean tides?",
}


def documents() -> list[Document]:
    return [Document(page_content=text, metadata={"subject": s}) for s, text in DOCUMENTS.items()]


def embeddings_of(emulator: ModelScopeEmulator) -> ModelScopeEmbeddings:
    # batch_size 2 does not divide 5 documents: retrieval also checks the batches' order
    return ModelScopeEmbeddings(
        model=EMBEDDING_MODEL, base_url=emulator.base_url, api_key=emulator.token, batch_size=2
    )


def test_a_query_retrieves_the_document_on_its_subject(
    modelscope_emulator: ModelScopeEmulator,
) -> None:
    store = InMemoryVectorStore.from_documents(documents(), embeddings_of(modelscope_emulator))
    for subject, query in QUERIES.items():
        (found,) = store.similarity_search(query, k=1)
        assert found.metadata["subject"] == subject, query
    sent = [r.body["input"] for r in modelscope_emulator.requests_for(path="/v1/embeddings")]
    assert [len(batch) for batch in sent[:3]] == [2, 2, 1]


async def test_a_query_retrieves_the_document_on_its_subject_async(
    modelscope_emulator: ModelScopeEmulator,
) -> None:
    embeddings = embeddings_of(modelscope_emulator)
    store = await InMemoryVectorStore.afrom_documents(documents(), embeddings)
    for subject, query in QUERIES.items():
        (found,) = await store.asimilarity_search(query, k=1)
        assert found.metadata["subject"] == subject, query


@pytest.mark.parametrize("subject", ["volcano", "bees"])
def test_chat_model_answers_from_the_retrieved_document(
    modelscope_emulator: ModelScopeEmulator, subject: str
) -> None:
    store = InMemoryVectorStore.from_documents(documents(), embeddings_of(modelscope_emulator))
    retrieved: list[str] = []

    @tool
    def search_knowledge_base(query: str) -> str:
        """Search the knowledge base for the document about a subject."""
        (found,) = store.similarity_search(query, k=1)
        retrieved.append(found.metadata["subject"])
        return str(found.page_content)

    chat = ChatModelScope(
        model=CHAT_MODEL,
        base_url=modelscope_emulator.base_url,
        api_key=modelscope_emulator.token,
        max_retries=0,
    )
    agent = create_agent(chat, [search_knowledge_base])
    question = f"Search the knowledge base: {QUERIES[subject]}"
    result = agent.invoke({"messages": [HumanMessage(question)]})
    messages = result["messages"]

    assert retrieved == [subject]
    tool_results = [m for m in messages if isinstance(m, ToolMessage)]
    assert [m.content for m in tool_results] == [DOCUMENTS[subject]]
    answer = messages[-1]
    assert isinstance(answer, AIMessage)
    assert not answer.tool_calls
    assert DOCUMENTS[subject].rstrip(".") in answer.text
    for other, text in DOCUMENTS.items():
        if other != subject:
            assert text.rstrip(".") not in answer.text
    # the model saw the retrieved document: it went out in the last chat request
    chat_requests = modelscope_emulator.requests_for(path="/v1/chat/completions")
    assert DOCUMENTS[subject] in str(chat_requests[-1].body["messages"])
