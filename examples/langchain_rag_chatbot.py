"""A multimodal RAG chatbot: LangChain + Chroma + Gemini, over notes, images, PDFs and video.

Text chunks, images, PDF pages (text and rendered image) and 2-second video segments live in
one persistent Chroma collection, all embedded by gemini-embedding-2 in one vector space. An
LCEL chain retrieves across modalities, hands the hits to ChatGemini as content blocks
(images, page images, video clips with offsets) and prints the answer with its sources.

    python examples/langchain_rag_chatbot.py --data tests/data --store ./.chroma \\
        [--question "When was the lighthouse built?"]

Set GEMINI_API_KEY to use the real service; without it the built-in emulator runs offline.
Needs: pip install 'omniembed[langchain-chroma,emulator]' (the emulator only for offline runs;
langchain-text-splitters optional).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import sys
from collections.abc import Iterator
from operator import itemgetter
from pathlib import Path
from typing import Any

from langchain_chroma import Chroma
from langchain_core.documents import Document
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import Runnable, RunnableLambda, RunnableParallel, RunnablePassthrough

from omniembed import Media, Modality, OmniEmbedError, VideoSegmentConfig
from omniembed.langchain import (
    ChatGemini,
    GeminiEmbeddings,
    PDFPageLoader,
    VideoSegmentLoader,
    add_documents_with_vectors,
)

log = logging.getLogger("rag_chatbot")
Chain = Runnable[dict[str, Any], dict[str, Any]]  # {"question", "history"} -> + docs, answer

EMBEDDING_MODEL = "gemini-embedding-2"
DIMENSIONS = 768  # Matryoshka-truncated: a quarter of the storage, little recall lost
SEGMENTS = VideoSegmentConfig(interval_sec=2)
TEXT_SUFFIXES = {".md", ".markdown", ".txt", ".rst"}  # prose; source code is not indexed
# Hits per modality. In a shared space a text query scores text documents systematically
# higher than images or video (the "modality gap"), so one top-k would be all text.
QUOTA = {"text": 3, "image": 2, "video": 1}
SYSTEM = (
    "You answer from the numbered context passages and the attached media only. "
    "Cite the numbers you use; say so plainly when nothing supplied covers the request."
)


@contextlib.contextmanager
def gemini_endpoint(base_url: str | None) -> Iterator[tuple[dict[str, Any], bool]]:
    """Connection settings and whether they are offline (stand-in vectors)."""
    key = os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY")
    if key or base_url:
        yield {"api_key": key or "offline", "base_url": base_url}, not key
        return
    from omniembed.emulator import Emulator

    log.warning(
        "GEMINI_API_KEY is not set: running OFFLINE on the built-in omniembed emulator. "
        "Vectors and answers are deterministic stand-ins, not a model."
    )
    with Emulator() as emu:
        yield {"api_key": "offline", "base_url": emu.base_url}, True


def split_text(text: str) -> list[str]:
    try:
        from langchain_text_splitters import (  # type: ignore[import-not-found, unused-ignore]
            RecursiveCharacterTextSplitter,
        )
    except ImportError:  # optional: fall back to paragraphs packed up to ~1,000 characters
        chunks: list[str] = []
        for paragraph in (p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()):
            if chunks and len(chunks[-1]) + len(paragraph) < 1000:
                chunks[-1] += "\n\n" + paragraph
            else:
                chunks.append(paragraph)
        return chunks
    return list(RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=100).split_text(text))


def index_file(store: Chroma, embeddings: GeminiEmbeddings, path: Path, pages_dir: Path) -> int:
    """Add one file's entries; returns how many (0 for unsupported kinds)."""
    media = Media.from_path(path)
    digest = media.content_hash()  # SHA-256, streamed
    base = {"source": str(path), "name": path.name, "sha256": digest}

    def ids(start: int, stop: int) -> list[str]:  # stable per content: re-adding upserts
        return [f"{digest[:16]}:{n}" for n in range(start, stop)]

    if path.suffix.lower() in TEXT_SUFFIXES:
        chunks = split_text(path.read_text(encoding="utf-8"))
        meta = {**base, "modality": "text", "parts": len(chunks)}
        store.add_texts(chunks, metadatas=[meta] * len(chunks), ids=ids(0, len(chunks)))
        return len(chunks)
    if media.modality is Modality.IMAGE:
        meta = {**base, "modality": "image", "mime_type": media.mime_type, "parts": 1}
        store.add_images(uris=[str(path)], metadatas=[meta], ids=ids(0, 1))
        return 1
    if media.mime_type == "application/pdf":
        # Each page twice: its text (exact wording) and its rendered image (figures, layout).
        pages = PDFPageLoader(path, image_dir=pages_dir).load()
        texts = [p for p in pages if p.page_content.strip()]  # scanned pages have no text
        parts = len(texts) + len(pages)
        meta = {**base, "parts": parts, "mime_type": "image/png"}
        text_meta = [{**p.metadata, **meta, "modality": "text"} for p in texts]
        store.add_texts([p.page_content for p in texts], text_meta, ids=ids(0, len(texts)))
        image_meta = [{**p.metadata, **meta, "modality": "image"} for p in pages]
        uris = [p.metadata["image_path"] for p in pages]
        store.add_images(uris=uris, metadatas=image_meta, ids=ids(len(texts), parts))
        return parts
    if media.modality is Modality.VIDEO:
        loader = VideoSegmentLoader(path, embeddings=embeddings, segment_config=SEGMENTS)
        segments, vectors = loader.load_with_vectors()  # one embedding pass, kept as computed
        for segment in segments:
            segment.metadata.update(base, mime_type=media.mime_type, parts=len(segments))
        add_documents_with_vectors(store, segments, vectors, ids=ids(0, len(segments)))
        return len(segments)
    log.debug("skipping %s (%s): not indexed by this example", path.name, media.mime_type)
    return 0


def sync_corpus(store: Chroma, embeddings: GeminiEmbeddings, data: Path, pages_dir: Path) -> None:
    """Index new or changed files, drop removed ones; unchanged files cost no embedding."""
    stored: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    existing = store.get(include=["metadatas"])
    for key, meta in zip(existing["ids"], existing["metadatas"], strict=True):
        stored.setdefault(str(meta["source"]), []).append((key, meta))
    files = sorted(p.resolve() for p in data.iterdir() if p.is_file() and p.stat().st_size)
    for path in files:
        entries = stored.pop(str(path), [])
        # Skip a complete, current file: same bytes and every part present (a crash
        # mid-file leaves fewer parts, so that file is redone).
        digest = Media.from_path(path).content_hash() if entries else ""
        if {(m["sha256"], m["parts"]) for _, m in entries} == {(digest, len(entries))}:
            continue
        if entries:
            store.delete(ids=[key for key, _ in entries])
        try:
            added = index_file(store, embeddings, path, pages_dir)
        except OmniEmbedError as exc:  # one bad file should not stop the chatbot
            log.warning("could not index %s: %s", path.name, exc)
            continue
        if added:
            log.info("indexed %s: %d entries", path.name, added)
    for source, entries in stored.items():
        log.info("removing %s (no longer in %s)", Path(source).name, data)
        store.delete(ids=[key for key, _ in entries])


def cite(doc: Document) -> str:
    meta = doc.metadata
    if "page" in meta:
        return f"{meta['name']} p. {meta['page']}"
    if "start_offset_sec" in meta:
        return f"{meta['name']} {clock(meta['start_offset_sec'])}–{clock(meta['end_offset_sec'])}"
    return str(meta["name"])


def clock(seconds: float) -> str:
    return f"{int(seconds) // 60:02d}:{int(seconds) % 60:02d}"


def is_text(doc: Document) -> bool:
    return bool(doc.metadata["modality"] == "text")


def media_block(doc: Document) -> dict[str, Any]:
    """A LangChain standard content block for a retrieved image, page image or video clip."""
    meta = doc.metadata
    if meta["modality"] == "image":  # Chroma.add_images stores the image itself, as base64
        return {"type": "image", "base64": doc.page_content, "mime_type": meta["mime_type"]}
    # A file:// URL, not base64: the provider inlines a small video and uploads a large one
    # once through the Files API. The offsets make the model watch only the clip.
    span = {key: meta[key] for key in ("start_offset_sec", "end_offset_sec")}
    url = Path(meta["source"]).as_uri()
    return {"type": "video", "url": url, "mime_type": meta["mime_type"], "extras": span}


def build_messages(inputs: dict[str, Any]) -> list[BaseMessage]:
    """System prompt, earlier turns, then the question with retrieved text and media."""
    docs = list(enumerate(inputs["docs"], 1))
    passages = [f"[{n}] {d.page_content} ({cite(d)})" for n, d in docs if is_text(d)]
    content: list[str | dict[Any, Any]] = ["\n".join(["Context:", *passages])]
    for n, doc in docs:
        if not is_text(doc):  # each medium labelled right before it, so it can be cited
            content += [{"type": "text", "text": f"[{n}] {cite(doc)}:"}, media_block(doc)]
    content.append({"type": "text", "text": f"Question: {inputs['question']}"})
    return [SystemMessage(SYSTEM), *inputs["history"], HumanMessage(content=content)]


def build_chain(store: Chroma, embeddings: GeminiEmbeddings, chat: ChatGemini) -> Chain:
    """{"question", "history"} -> the same plus "docs" (retrieved) and "answer"."""

    def search(modality: str, k: int) -> Runnable[list[float], list[Document]]:
        where = {"modality": modality}
        return RunnableLambda(lambda v: store.similarity_search_by_vector(v, k=k, filter=where))

    def merge(hits: dict[str, list[Document]]) -> list[Document]:
        return [doc for modality in QUOTA for doc in hits[modality]]

    # The query is embedded once, then searched once per modality.
    retrieve: Runnable[str, list[Document]] = (
        RunnableLambda(embeddings.embed_query)
        | RunnableParallel({modality: search(modality, k) for modality, k in QUOTA.items()})
        | RunnableLambda(merge)
    )
    answer = RunnableLambda(build_messages) | chat | StrOutputParser()
    return RunnablePassthrough.assign(docs=itemgetter("question") | retrieve).assign(answer=answer)


def ask(chain: Chain, question: str, history: list[BaseMessage]) -> None:
    result = chain.invoke({"question": question, "history": history})
    print(result["answer"])
    print("Sources:")
    for source in dict.fromkeys(cite(doc) for doc in result["docs"]):
        print(f"  - {source}")
    # History keeps the words only: media are re-retrieved per turn, not resent every turn.
    history += [HumanMessage(question), AIMessage(result["answer"])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder of files to index")
    parser.add_argument("--store", type=Path, required=True, help="Chroma persist directory")
    parser.add_argument("--question", help="answer one question and exit")
    parser.add_argument("--base-url", help="a running emulator or proxy")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")  # stderr
    log.setLevel(logging.DEBUG if args.verbose else logging.INFO)

    with gemini_endpoint(args.base_url) as (connection, offline):
        args.store.mkdir(parents=True, exist_ok=True)
        # Stand-in vectors must never mix with real ones: separate collection and cache.
        name = f"rag-{EMBEDDING_MODEL}-{DIMENSIONS}" + ("-offline" if offline else "")
        embeddings = GeminiEmbeddings(
            model=EMBEDDING_MODEL, dimensions=DIMENSIONS,
            cache=args.store / f"{name}.embeddings.sqlite", **connection,
        )  # fmt: skip
        store = Chroma(
            collection_name=name, embedding_function=embeddings,
            persist_directory=str(args.store), collection_metadata={"hnsw:space": "cosine"},
        )  # fmt: skip
        sync_corpus(store, embeddings, args.data, args.store / "pdf-pages")
        chain = build_chain(store, embeddings, ChatGemini(temperature=0.2, **connection))
        history: list[BaseMessage] = []
        if args.question:
            ask(chain, args.question, history)
            return 0
        print("Ask about your files (empty line or Ctrl-D to quit).")
        with contextlib.suppress(EOFError, KeyboardInterrupt):
            for question in iter(lambda: input("> ").strip(), ""):
                ask(chain, question, history)
    return 0


if __name__ == "__main__":
    sys.exit(main())
