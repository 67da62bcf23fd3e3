"""A multimodal RAG chatbot over a folder: text, images, PDF pages and video segments.

Indexes the folder once into a persistent Qdrant store (local mode, no server) with
gemini-embedding-2, which puts text, images, PDF pages and video in one vector space, then
answers with Gemini over the retrieved media and cites files, pages and timestamps:

    python examples/llama_index_rag_chatbot.py --data tests/data --store ./.rag-store \\
        [--question "When was the lighthouse built?"]

Set GEMINI_API_KEY to use the real service; without it the example runs offline against
omniembed's built-in emulator (stand-in vectors and answers, not a model).
Needs: pip install 'omniembed[llama-index-qdrant,emulator]' (the emulator only for offline runs).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from llama_index.core import SimpleDirectoryReader, StorageContext
from llama_index.core.base.llms.types import ChatMessage, ImageBlock, MessageRole, TextBlock
from llama_index.core.indices.multi_modal import MultiModalVectorStoreIndex
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import BaseNode, ImageNode, NodeWithScore
from llama_index.core.vector_stores import MetadataFilter, MetadataFilters
from llama_index.vector_stores.qdrant import QdrantVectorStore
from qdrant_client import QdrantClient

from omniembed import VideoSegmentConfig
from omniembed.llama_index import (
    GeminiMultiModalEmbedding,
    GeminiMultiModalLLM,
    PDFPageReader,
    VideoClipBlock,
    VideoSegmentReader,
)

log = logging.getLogger("rag_chatbot")

IMAGES = {".png", ".jpg", ".jpeg"}
TEXTS = {".md", ".txt"}
VIDEOS = {".mp4", ".mov"}
# Truncated gemini-embedding-2 vectors keep most of their quality (omniembed re-normalizes
# them) and make the store four times smaller than the full 3,072 dimensions.
DIMENSIONS = 768
SYSTEM = (
    "You are a helpful assistant for a folder of documents and media. Rely only on the "
    "numbered sources in the user's message and cite them like [2]. If they do not "
    "contain the answer, say you do not know."
)


@contextlib.contextmanager
def service(base_url: str | None) -> Iterator[dict[str, Any]]:
    """Connection options shared by the embedding model and the LLM."""
    key = {} if os.environ.get("GEMINI_API_KEY") else {"api_key": "offline"}
    if base_url:
        yield {**key, "base_url": base_url}
    elif not key:
        yield {}
    else:
        from omniembed.emulator import Emulator

        with Emulator() as emu:
            log.warning(
                "GEMINI_API_KEY is not set: running OFFLINE on the built-in emulator "
                "(stand-in vectors and canned grounded answers, not a model)"
            )
            yield {**key, "base_url": emu.base_url}


def load_nodes(data: Path, embed: GeminiMultiModalEmbedding, interval: float) -> list[BaseNode]:
    files = sorted(p for p in data.rglob("*") if p.is_file() and not p.name.startswith("."))
    pdfs = [p for p in files if p.suffix.lower() == ".pdf"]
    videos = [p for p in files if p.suffix.lower() in VIDEOS]
    plain = [p for p in files if p.suffix.lower() in IMAGES | TEXTS]
    for path in sorted(set(files) - set(pdfs) - set(videos) - set(plain)):
        log.info("skipping %s (not an image, PDF, video or text file)", path.name)

    documents: list[Any] = []
    if plain:  # text files become Documents, images ImageDocuments (with file metadata)
        documents += SimpleDirectoryReader(input_files=plain, filename_as_id=True).load_data()
    if pdfs:  # one node per page: its text plus the page rendered to PNG
        documents += PDFPageReader(dpi=96).load_data(files=pdfs)
    # The splitter turns Documents into the TextNode/ImageNode types the index keeps.
    nodes: list[BaseNode] = list(SentenceSplitter(chunk_size=1024)(documents))
    if videos:  # segment vectors come back attached, so the index will not re-embed them
        config = VideoSegmentConfig(interval_sec=interval)
        nodes += VideoSegmentReader(embed, config).load_data(files=videos)
    log.info("loaded %d nodes from %d files", len(nodes), len(files))
    return nodes


def open_index(
    client: QdrantClient, data: Path, embed: GeminiMultiModalEmbedding, interval: float
) -> MultiModalVectorStoreIndex:
    # Qdrant keeps each node's text and metadata in its payload, so the collections alone
    # are the whole index: no docstore to persist, and reopening embeds nothing.
    text_store = QdrantVectorStore(client=client, collection_name="text")
    image_store = QdrantVectorStore(client=client, collection_name="images")
    if client.collection_exists("text") or client.collection_exists("images"):
        log.info("reusing the existing index (pass --reindex to rebuild it)")
        return MultiModalVectorStoreIndex.from_vector_store(
            text_store,
            embed_model=embed,
            image_vector_store=image_store,
            image_embed_model=embed,
            is_image_vector_store_empty=not client.collection_exists("images"),
            is_text_vector_store_empty=not client.collection_exists("text"),
        )
    log.info("indexing %s", data)
    storage = StorageContext.from_defaults(vector_store=text_store, image_store=image_store)
    return MultiModalVectorStoreIndex(
        load_nodes(data, embed, interval),
        storage_context=storage,
        embed_model=embed,  # text chunks and PDF page text
        image_embed_model=embed,  # image files and rendered PDF pages, same vector space
    )


def retrieve(index: MultiModalVectorStoreIndex, question: str, top_k: int) -> list[NodeWithScore]:
    # Text→image and text→video similarities run lower than text→text even in one shared
    # space, so one merged top-k would rarely surface media: rank each modality on its own.
    hits = index.as_retriever(similarity_top_k=top_k, image_similarity_top_k=2).retrieve(question)
    only_video = MetadataFilters(filters=[MetadataFilter(key="modality", value="video")])
    hits += index.as_retriever(similarity_top_k=1, filters=only_video).text_retrieve(question)
    best: dict[str, NodeWithScore] = {}
    for hit in hits:  # a PDF page can match twice: by its text and by its image
        kept = best.get(hit.node.node_id)
        if kept is None or (hit.score or 0) > (kept.score or 0):
            best[hit.node.node_id] = hit
    return list(best.values())


def clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"


def cite(node: BaseNode) -> str:
    meta = node.metadata
    name = meta.get("file_name", "?")
    if "page_number" in meta:
        return f"{name}, page {meta['page_number']}"
    if meta.get("modality") == "video":
        return f"{name} {clock(meta['start_offset_sec'])}–{clock(meta['end_offset_sec'])}"
    return str(name)


def user_message(question: str, hits: Sequence[NodeWithScore]) -> ChatMessage:
    """The question with every retrieved source as numbered text or media blocks."""
    blocks: list[Any] = []
    for number, hit in enumerate(hits, 1):
        node, meta = hit.node, hit.node.metadata
        blocks.append(TextBlock(text=f"Source [{number}]: {cite(node)}"))
        if meta.get("modality") == "video":  # only the matching stretch, not the whole file
            start, end = meta["start_offset_sec"], meta["end_offset_sec"]
            blocks.append(
                VideoClipBlock(path=meta["file_path"], start_offset_sec=start, end_offset_sec=end)
            )
            continue
        if isinstance(node, ImageNode) and node.image_path:
            blocks.append(ImageBlock(path=Path(node.image_path)))
        elif isinstance(node, ImageNode) and node.image:  # a rendered PDF page
            image = base64.b64decode(node.image)
            blocks.append(ImageBlock(image=image, image_mimetype=node.image_mimetype))
        if node.get_content().strip():
            blocks.append(TextBlock(text=node.get_content()))
    blocks.append(TextBlock(text=f"Question: {question}"))
    return ChatMessage(role=MessageRole.USER, blocks=blocks)


class Chat:
    """Retrieval plus Gemini, with the conversation kept across turns."""

    def __init__(self, index: MultiModalVectorStoreIndex, llm: GeminiMultiModalLLM, top_k: int):
        self.index, self.llm, self.top_k = index, llm, top_k
        self.history: list[ChatMessage] = []

    def ask(self, question: str) -> str:
        hits = retrieve(self.index, question, self.top_k)
        log.info("retrieved %d sources", len(hits))
        messages = [
            ChatMessage(role=MessageRole.SYSTEM, content=SYSTEM),
            *self.history,
            user_message(question, hits),
        ]
        answer = self.llm.chat(messages).message.content or ""
        # History keeps the words only: media is retrieved afresh for each question, so
        # earlier clips and pages are not re-sent (and re-billed) on every turn.
        self.history += [
            ChatMessage(role=MessageRole.USER, content=question),
            ChatMessage(role=MessageRole.ASSISTANT, content=answer),
        ]
        sources = [
            f"  [{n}] {cite(h.node)} (score {h.score or 0:.3f})" for n, h in enumerate(hits, 1)
        ]
        return "\n".join([answer, "", "Sources:", *sources])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, required=True, help="folder to index")
    parser.add_argument("--store", type=Path, required=True, help="where the index is kept")
    parser.add_argument("--question", help="ask one question and exit (no interactive chat)")
    parser.add_argument("--base-url", help="a running emulator or proxy for the Gemini API")
    parser.add_argument("--reindex", action="store_true", help="rebuild the index")
    parser.add_argument("--video-interval", type=float, default=2.0, help="segment seconds")
    parser.add_argument("--top-k", type=int, default=3, help="text sources per question")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.INFO)
    # Local mode ignores payload indexes, which the Qdrant integration creates anyway.
    warnings.filterwarnings("ignore", message="Payload indexes have no effect")

    args.store.mkdir(parents=True, exist_ok=True)
    data = args.data.resolve()  # nodes keep file paths: absolute ones work from any folder
    with service(args.base_url) as options:
        embed = GeminiMultiModalEmbedding(
            model_name="gemini-embedding-2",
            dimensions=DIMENSIONS,
            # A second guard against paying twice: unchanged inputs (e.g. after --reindex)
            # are served from this SQLite file instead of the API.
            cache=args.store / "embeddings.sqlite",
            **options,
        )
        # Each "Source [n]" label is sent right before its image or clip (interleaved
        # content keeps its order), so the model can tell the sources apart.
        llm = GeminiMultiModalLLM(temperature=0.2, **options)
        client = QdrantClient(path=str(args.store / "qdrant"))
        try:
            if args.reindex:
                for name in ("text", "images"):
                    client.delete_collection(name)
            chat = Chat(open_index(client, data, embed, args.video_interval), llm, args.top_k)
            if args.question:
                print(chat.ask(args.question))
                return 0
            print("Ask about your files; an empty line or Ctrl-D quits.")
            with contextlib.suppress(EOFError, KeyboardInterrupt):
                while question := input("\nyou> ").strip():
                    print(chat.ask(question))
        finally:
            client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
