"""End to end: the real corpus (Markdown + PDF) in a memory, queried through LlamaIndex with the offline MiniLM."""

from __future__ import annotations

from pathlib import Path

import pytest
from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.llms import MockLLM
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import Document
from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters

from memvid_base.loaders import read_pdf, read_text_file
from memvid_llamaindex import MemvidEmbedding, MemvidVectorStore

CORPUS = Path(__file__).resolve().parent.parent / "corpus"

# question -> (file that answers it, a phrase the cited node must contain)
QUESTIONS = {
    "Who invented the QR code and at which company?": ("qr_codes.md", "Masahiro Hara"),
    "Which enzyme fixes carbon dioxide in the Calvin cycle?": ("photosynthesis.md", "RuBisCO"),
    "Who decoded the waggle dance of honey bees?": ("honeybees.md", "Karl von Frisch"),
    "What were Neil Armstrong's first words after the lunar module landed?": ("apollo_11.md", "The Eagle has landed"),
    "Which companies founded the Alliance for Open Media that released AV1?": ("video_codecs.pdf", "Alliance for Open Media"),
}


def corpus_documents() -> list[Document]:
    docs = []
    for path in sorted(CORPUS.glob("*.md")):
        docs.append(Document(text=read_text_file(path), id_=path.name, metadata={"file": path.name}))
    for path in sorted(CORPUS.glob("*.pdf")):
        for text, meta in read_pdf(path):
            docs.append(Document(text=text, id_=f"{path.name}#page={meta['page']}", metadata=meta))
    return docs


@pytest.fixture(scope="module")
def embed_model():
    return MemvidEmbedding()


@pytest.fixture(scope="module")
def built(tmp_path_factory, embed_model):
    folder = tmp_path_factory.mktemp("li_corpus")
    store = MemvidVectorStore(folder / "corpus.mp4")
    index = VectorStoreIndex.from_documents(
        corpus_documents(),
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=embed_model,
        transformations=[SentenceSplitter(chunk_size=128, chunk_overlap=16)],
    )
    return folder, store, index


def test_corpus_is_ingested_whole(built):
    _, store, _ = built
    nodes = store.get_nodes()
    assert len(nodes) >= 15
    assert {n.metadata["file"] for n in nodes} == {"apollo_11.md", "honeybees.md", "photosynthesis.md", "qr_codes.md", "video_codecs.pdf"}
    assert {n.metadata["page"] for n in nodes if n.metadata["file"] == "video_codecs.pdf"} == {1, 2}
    # every node's text is a verbatim slice of its source document, decoded from the video
    docs = {d.doc_id: d.text for d in corpus_documents()}
    assert all(n.text in docs[n.ref_doc_id] for n in nodes)


@pytest.mark.parametrize("question", list(QUESTIONS))
def test_query_engine_cites_the_right_source(built, question):
    _, _, index = built
    engine = index.as_query_engine(llm=MockLLM(), similarity_top_k=2)
    response = engine.query(question)
    file, phrase = QUESTIONS[question]
    top = response.source_nodes[0]
    assert top.node.metadata["file"] == file
    assert phrase in top.node.get_content()
    assert 0.5 < top.score <= 1.0
    assert response.source_nodes[0].score >= response.source_nodes[1].score
    assert phrase in str(response)  # MockLLM echoes its prompt: the cited text reached the LLM


def test_reopened_memory_answers_without_reingesting(built, embed_model):
    folder, store, index = built
    version = store.client.version
    reopened = MemvidVectorStore(folder / ".corpus.mp4.memvid-cache" / "index.json", create_if_missing=False)
    engine = VectorStoreIndex.from_vector_store(reopened, embed_model=embed_model).as_query_engine(
        llm=MockLLM(), similarity_top_k=2
    )
    for question, (file, phrase) in QUESTIONS.items():
        response = engine.query(question)
        assert response.source_nodes[0].node.metadata["file"] == file
        assert phrase in response.source_nodes[0].node.get_content()
        original = index.as_retriever(similarity_top_k=2).retrieve(question)
        assert [s.node.node_id for s in response.source_nodes] == [s.node.node_id for s in original]
    assert reopened.client.version == version


def test_filtered_retriever_over_the_corpus(built):
    _, _, index = built
    retriever = index.as_retriever(
        similarity_top_k=3, filters=MetadataFilters(filters=[MetadataFilter(key="file", value="video_codecs.pdf")])
    )
    hits = retriever.retrieve("Who invented the QR code?")
    assert hits and all(h.node.metadata["file"] == "video_codecs.pdf" for h in hits)
    page2 = index.as_retriever(
        similarity_top_k=3,
        filters=MetadataFilters(
            filters=[MetadataFilter(key="file", value="video_codecs.pdf"), MetadataFilter(key="page", value=2, operator=">=")]
        ),
    ).retrieve("constant rate factor")
    assert page2 and {h.node.metadata["page"] for h in page2} == {2}
    assert "CRF" in page2[0].node.text


async def test_async_query_engine(built):
    _, _, index = built
    response = await index.as_query_engine(llm=MockLLM(), similarity_top_k=1).aquery("Which enzyme fixes carbon dioxide?")
    assert response.source_nodes[0].node.metadata["file"] == "photosynthesis.md"
