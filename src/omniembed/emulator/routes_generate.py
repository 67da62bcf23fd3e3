"""``generateContent`` and ``streamGenerateContent`` on the Gemini API and Vertex AI.

Requests are read by `generate_request`, media described by `generate_media`, the answer
built by `generation`; this module turns them into the service's response shapes (per
model family, see `generation_models`), usage metadata, SSE chunks and safety blocks.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from .files_api import FileStore
from .generate_media import Seen, see
from .generate_request import (
    Backend,
    Blob,
    FileResolver,
    FunctionCall,
    FunctionResponse,
    GenerateRequest,
    Text,
    guess_mime,
    parse_request,
)
from .generation import BLOCK_PROMPT, BLOCK_RESPONSE, Answer, all_text, answer
from .generation_models import THOUGHT_TOKENS, GenerationModel, generation_model
from .google_errors import invalid_argument, not_found
from .proto_json import Violation, read_fields
from .routing import Call
from .tokens import billable_characters, count_text_tokens, truncate_tokens

GENERATE_ROUTES = frozenset({"generateContent", "streamGenerateContent"})
#: Words per streamed chunk (the service sends a few words to a sentence per chunk).
WORDS_PER_CHUNK = 4
_SAFETY_CATEGORIES = (
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
)
_BLOCKED_CATEGORY = "HARM_CATEGORY_DANGEROUS_CONTENT"
_CHUNK = re.compile(r"\s*\S+")


@dataclass(frozen=True)
class Sources:
    """Where ``fileData`` URIs resolve: the Files API store and Cloud Storage objects."""

    files: FileStore
    gcs_objects: Mapping[str, bytes]


@dataclass
class _Outcome:
    """Everything a response (or its chunks) is built from."""

    model: GenerationModel
    backend: Backend
    request: GenerateRequest
    prompt_tokens: dict[str, int]
    response_id: str
    blocked_prompt: bool = False
    blocked_response: bool = False
    text: str = ""
    call: FunctionCall | None = None
    thoughts: int = 0
    finish: str = "STOP"


def generate_content(call: Call, body: Any, sources: Sources) -> dict[str, Any]:
    outcome = _run(call, body, sources)
    return _full_response(outcome)


def stream_generate_content(call: Call, body: Any, sources: Sources) -> list[dict[str, Any]]:
    """The chunks of a streamed answer, in order (the dispatcher frames them as SSE)."""
    return _chunks(_run(call, body, sources))


#: Vertex's ``CountTokensRequest`` fields (``instances`` serves non-Gemini models).
_VERTEX_COUNT_FIELDS = (
    "model", "instances", "contents", "systemInstruction", "tools", "generationConfig",
)  # fmt: skip


def count_tokens(call: Call, body: Any, sources: Sources) -> dict[str, Any]:
    """``:countTokens`` for a generation model: the prompt tokens ``generateContent`` would
    bill, by modality. As recorded (pydantic-ai's test_google_model_usage_limit_exceeded,
    Gemini API: ``{"totalTokens", "promptTokensDetails"}``; test_google_vertexai_count_
    tokens_forwards_native_tools and test_google_vertexai_model_usage_limit_exceeded, Vertex
    AI: the same plus ``totalBillableCharacters``, the text's characters without
    whitespace: 47 for "You are a helpful chatbot." and "What is the capital of France?").
    The Gemini API also takes the whole request as ``generateContentRequest``
    (ai.google.dev/api/tokens#method:-models.counttokens)."""
    backend: Backend = "vertex" if call.api == "vertex" else "gemini"
    model = _model_or_404(call, backend)
    with _violations(backend, "CountTokensRequest"):
        if backend == "vertex":
            fields = read_fields(body, "", _VERTEX_COUNT_FIELDS)
            fields.pop("instances", None)
        else:
            fields = read_fields(body, "", ("contents", "generateContentRequest"))
            if "generateContentRequest" in fields:
                fields = fields["generateContentRequest"]
        request = parse_request(fields, model, backend, _resolver(backend, sources))
        seen = [see(blob, where, model.profile) for blob, where, _ in _media(request)]
    prompt = _prompt_tokens(request, seen)
    answer: dict[str, Any] = {
        "totalTokens": sum(prompt.values()),
        "promptTokensDetails": _details(prompt),
    }
    if backend == "vertex":
        texts = request.system + [
            p.text for t in request.turns for p in t.parts if isinstance(p, Text)
        ]
        answer["totalBillableCharacters"] = sum(billable_characters(t) for t in texts)
    return answer


def _label(parts: Sequence[object], index: int) -> str:
    """The text right before a media part, if that is what precedes it."""
    before = parts[index - 1] if index > 0 else None
    return before.text.strip() if isinstance(before, Text) else ""


def _run(call: Call, body: Any, sources: Sources) -> _Outcome:
    backend: Backend = "vertex" if call.api == "vertex" else "gemini"
    model = _model_or_404(call, backend)
    with _violations(backend):
        request = parse_request(body, model, backend, _resolver(backend, sources))
        seen = [
            replace(see(blob, where, model.profile), label=label)
            for blob, where, label in _media(request)
        ]
    prompt = _prompt_tokens(request, seen)
    total = sum(prompt.values())
    if total > model.input_token_limit:
        raise invalid_argument(
            f"The input token count ({total}) exceeds the maximum number of tokens allowed "
            f"({model.input_token_limit})."
        )
    outcome = _Outcome(model, backend, request, prompt, _response_id(body))
    text = all_text(request)
    if BLOCK_PROMPT in text:
        outcome.blocked_prompt = True
        return outcome
    outcome.blocked_response = BLOCK_RESPONSE in text
    result: Answer = answer(request, seen)
    outcome.thoughts = _thought_tokens(model, request)
    if result.call is not None:
        outcome.call = result.call
        return outcome
    outcome.text = _cut_at_stop(result.text, request.stop_sequences)
    limit = request.max_output_tokens
    if limit is not None:
        room = max(0, limit - outcome.thoughts)
        outcome.thoughts = min(outcome.thoughts, limit)
        if count_text_tokens(outcome.text) > room:
            outcome.text = truncate_tokens(outcome.text, room)
            outcome.finish = "MAX_TOKENS"
    return outcome


def _media(request: GenerateRequest) -> Iterator[tuple[Blob, str, str]]:
    """Every media part with its path and label, those a function returned included: the
    service bills them like any other (pydantic-ai's test_multimodal_tool_return_matrix
    [*-google_gemini3] and [*-google_vertex]: an image or PDF in ``functionResponse.parts``
    adds its modality to ``promptTokensDetails``)."""
    for t, turn in enumerate(request.turns):
        for p, part in enumerate(turn.parts):
            if isinstance(part, Blob):
                yield part, f"contents[{t}].parts[{p}]", _label(turn.parts, p)
            elif isinstance(part, FunctionResponse):
                for m, blob in enumerate(part.media):
                    where = f"contents[{t}].parts[{p}].function_response.parts[{m}]"
                    yield blob, where, f"{part.name} result"


def _resolver(backend: Backend, sources: Sources) -> FileResolver:
    def resolve(uri: str, declared: str | None, path: str) -> Blob:
        if backend == "gemini":
            blob = sources.files.resolve(uri)
            if blob is not None:
                return blob
        elif uri.startswith("gs://"):
            data = sources.gcs_objects.get(uri)
            if data is None:
                raise not_found(
                    f"The object {uri} does not exist (no such object in Cloud Storage)."
                )
            mime = guess_mime(uri, declared)
            if mime is None:
                raise Violation(path, "mime_type is required for file data")
            return Blob(mime, data, uri)
        if uri.startswith(("http://", "https://")):
            youtube = "youtube.com/" in uri or "youtu.be/" in uri
            mime = guess_mime(uri, declared) or ("video/mp4" if youtube else None)
            if mime is None:
                raise Violation(path, f"mime_type is required for file data {uri}")
            return Blob(mime, None, uri)  # the emulator never fetches the internet
        raise Violation(path, f"Unsupported file uri: {uri}")

    return resolve


def _prompt_tokens(request: GenerateRequest, seen: list[Seen]) -> dict[str, int]:
    texts = list(request.system)
    for turn in request.turns:
        for part in turn.parts:
            if isinstance(part, Text):
                texts.append(part.text)
            elif isinstance(part, FunctionCall):
                texts.append(f"{part.name} {json.dumps(part.args)}")
            elif isinstance(part, FunctionResponse):
                texts.append(f"{part.name} {json.dumps(part.response)}")
    texts += [s.text for s in seen if s.text]
    counts = {"TEXT": sum(count_text_tokens(t) for t in texts)}
    for item in seen:
        for modality, n in item.tokens.items():
            counts[modality] = counts.get(modality, 0) + n
    return counts


def _thought_tokens(model: GenerationModel, request: GenerateRequest) -> int:
    budget = request.thinking_budget
    if model.thinking == "never" or budget == 0:
        return 0
    if (request.thinking_level or model.default_level) == "MINIMAL" and budget is None:
        return 0  # as recorded for gemini-3.1-flash-lite, which thinks minimally by default
    if budget is None and model.thinking == "optional" and not model.default_on:
        return 0
    return THOUGHT_TOKENS if budget is None or budget < 0 else min(THOUGHT_TOKENS, budget)


def _cut_at_stop(text: str, stops: list[str]) -> str:
    found = [i for i in (text.find(s) for s in stops) if i >= 0]
    return text[: min(found)] if found else text


# --- response shapes ----------------------------------------------------------------------------


def _full_response(o: _Outcome, *, streamed: bool = False) -> dict[str, Any]:
    if o.blocked_prompt:
        return _envelope(o, None, _usage(o, 0, final=True), feedback=True)
    if o.blocked_response:
        return _envelope(
            o, [_blocked_candidate(o, i) for i in _indices(o)], _usage(o, 0, final=True)
        )
    parts = _parts(o, o.text, first=True)
    candidates = [_candidate(o, i, parts, o.finish, final=not streamed) for i in _indices(o)]
    _ground(o, candidates, o.text, first=True)
    return _envelope(o, candidates, _usage(o, _output_tokens(o), final=True))


def _chunks(o: _Outcome) -> list[dict[str, Any]]:
    if o.call is not None and o.model.profile == "3":
        return _gemini_3_call_chunks(o)
    if o.blocked_prompt or o.call is not None or not o.text:
        return [_full_response(o, streamed=True)]
    pieces = _split(o.text)
    if o.blocked_response:  # some text first, then the SAFETY stop
        shown = pieces[: max(1, len(pieces) // 2)]
        chunks = [_text_chunk(o, shown, i, final=False) for i in range(len(shown))]
        blocked = [_blocked_candidate(o, i) for i in _indices(o)]
        return [
            *chunks,
            _envelope(o, blocked, _usage(o, count_text_tokens("".join(shown)), final=True)),
        ]
    if o.model.profile == "3":
        # Gemini 3 streams end with a chunk of its own: an empty text part carrying the
        # answer's thoughtSignature, with the finishReason (llm-gemini's gemini-flash-latest
        # cassettes, e.g. test_prompt.yaml; pydantic-ai's test_code_execution_stream and
        # test_native_output_with_function_tools_stream#1; a one-chunk answer carries it on
        # its text, test_google_vertex_service_tier_flex_stream).
        pieces.append("")
    head = _code_chunks(o) if _runs_code(o) else []
    return [
        *head,
        *(
            _text_chunk(o, pieces, i, final=i == len(pieces) - 1, lead=not head)
            for i in range(len(pieces))
        ),
    ]


def _code_chunks(o: _Outcome) -> list[dict[str, Any]]:
    """A streamed answer that ran code starts with the code (signed, followed by an empty
    text part), then its result, then the text (pydantic-ai's test_code_execution_stream,
    gemini-3-flash-preview)."""
    parts = _parts(o, "", first=True)  # [thought?, executableCode, codeExecutionResult]
    usage = _usage(o, count_text_tokens(_code(o)[0]), final=False)
    code = [_candidate(o, i, [*parts[:-1], {"text": ""}], None, final=False) for i in _indices(o)]
    result = [_candidate(o, i, parts[-1:], None, final=False) for i in _indices(o)]
    return [_envelope(o, code, usage), _envelope(o, result, usage)]


def _gemini_3_call_chunks(o: _Outcome) -> list[dict[str, Any]]:
    """A Gemini 3 model streams a function call as the call (signed, no finishReason), then
    a chunk with an empty text part and ``finishReason: STOP``; neither carries the
    ``finishMessage`` its unary answers have (pydantic-ai's
    test_google_streaming_tool_call_thought_signature#0 and
    test_native_output_with_function_tools_stream#0; llm-gemini's
    test_tools_with_gemini_3_thought_signatures#0). Both report the full usage."""
    usage = _usage(o, _output_tokens(o), final=True)
    call = [_candidate(o, i, _parts(o, "", first=True), None, final=False) for i in _indices(o)]
    end = [_candidate(o, i, [{"text": ""}], "STOP", final=False) for i in _indices(o)]
    for candidate in end:
        candidate.pop("finishMessage", None)
    return [_envelope(o, call, usage), _envelope(o, end, usage)]


def _text_chunk(
    o: _Outcome, pieces: list[str], i: int, *, final: bool, lead: bool = True
) -> dict[str, Any]:
    """Chunk ``i`` of a streamed text; ``lead``: it may open the answer (thought part,
    signature), false when code chunks came first."""
    if o.model.profile == "3" and final and len(pieces) > 1:
        parts: list[dict[str, Any]] = [{"text": "", "thoughtSignature": _signature(o)}]
    else:
        parts = _parts(o, pieces[i], first=lead and i == 0, streamed=True)
    so_far = count_text_tokens("".join(pieces[: i + 1]))
    finish = o.finish if final else None
    candidates = [_candidate(o, c, parts, finish, final=False) for c in _indices(o)]
    _ground(o, candidates, "".join(pieces) if final else None, first=i == 0)
    return _envelope(o, candidates, _usage(o, so_far, final=final))


def _split(text: str) -> list[str]:
    """Chunks of a few words; joined they give back ``text`` exactly."""
    tokens = _CHUNK.findall(text)
    size = max(1, min(WORDS_PER_CHUNK, -(-len(tokens) // 2)))  # 2+ chunks from 2+ words
    pieces = ["".join(tokens[i : i + size]) for i in range(0, len(tokens), size)]
    if not pieces:
        return [text]
    pieces[-1] += text[len("".join(pieces)) :]  # trailing whitespace
    return pieces


def _parts(o: _Outcome, text: str, *, first: bool, streamed: bool = False) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if first and o.thoughts and o.request.include_thoughts:
        parts.append(
            {
                "text": "Looking for the context sentence that best matches the question.",
                "thought": True,
            }
        )
    if first and not streamed and _runs_code(o):
        code, output, ident = _code(o)
        parts.append({"executableCode": {"code": code, "id": ident, "language": "PYTHON"}})
        parts.append(
            {"codeExecutionResult": {"id": ident, "outcome": "OUTCOME_OK", "output": output}}
        )
    if o.call is not None:
        parts.append({"functionCall": {"name": o.call.name, "args": o.call.args}})
    elif text:
        parts.append({"text": text})
    if first and _signs(o, streamed=streamed):
        for part in parts:
            if not part.get("thought"):
                part["thoughtSignature"] = _signature(o)
                break
    return parts


def _signs(o: _Outcome, *, streamed: bool) -> bool:
    """Whether the answer's first part carries a ``thoughtSignature``.

    gemini-2.5 signs only when the request declares tools and the model thought: none of
    the 35 recorded 2.5 answers to requests without tools has a signature, while most with
    tools do (pydantic-ai's test_google_* and test_multimodal_tool_returns__*[google_2_5]
    cassettes). Gemini 3 signs every answer, even one with no thinking tokens (gemini-3.1-
    flash-lite in test_google_model_top_k); its text streams sign their last chunk instead
    (see `_chunks`)."""
    if o.model.profile == "3":
        return not streamed or o.call is not None
    return o.model.profile == "2.5" and bool(o.thoughts) and o.request.has_tools


def _candidate(
    o: _Outcome, index: int, parts: list[dict[str, Any]], finish: str | None, *, final: bool
) -> dict[str, Any]:
    content: dict[str, Any] = {"parts": parts, "role": "model"} if parts else {"role": "model"}
    candidate: dict[str, Any] = {"content": content}
    if finish is not None:
        candidate["finishReason"] = finish
    if o.call is not None and o.model.profile != "2.0" and finish is not None:
        candidate["finishMessage"] = "Model generated function call(s)."
    if final and parts and _sends_avg_logprobs(o):  # whole (unstreamed) answers only
        candidate["avgLogprobs"] = -int(o.response_id.encode().hex()[:6], 16) / 1e8
    if _sends_index(o, index):
        candidate["index"] = index
    return candidate


def _sends_avg_logprobs(o: _Outcome) -> bool:
    """gemini-2.0 on both APIs, and every model on Vertex AI, put ``avgLogprobs`` on a whole
    answer; streamed chunks never carry it. On Vertex the recordings show it on 115 of 119
    unary candidates (pydantic-ai's ``test_google_vertex_*`` and ``test_multimodal_tool_
    returns__*[google_vertex]`` cassettes, gemini-2.0 to gemini-3): the exceptions are three
    answers grounded with Google Search (``test_google_vertex_tool_combination_omits_*``,
    ``test_google_vertexai_count_tokens_forwards_native_tools``) and one image; the one
    recorded Vertex stream (``test_google_vertex_service_tier_flex_stream``) has none."""
    if o.backend == "vertex":
        return not o.request.search_grounding
    return o.model.profile == "2.0"


def _sends_index(o: _Outcome, index: int) -> bool:
    """Vertex AI never sends candidate 0's ``index`` (proto3 JSON leaves out a field at its
    default; none of the 120 recorded Vertex candidates has it), while the Gemini API sends
    it from gemini-2.5 on (every recorded 2.5+ answer has ``index: 0``)."""
    if o.backend == "vertex":
        return index != 0
    return o.model.profile != "2.0" or o.request.candidate_count > 1


def _blocked_candidate(o: _Outcome, index: int) -> dict[str, Any]:
    ratings = [
        {"category": c, "probability": "HIGH", "blocked": True}
        if c == _BLOCKED_CATEGORY
        else {"category": c, "probability": "NEGLIGIBLE"}
        for c in _SAFETY_CATEGORIES
    ]
    candidate: dict[str, Any] = {"content": {}, "finishReason": "SAFETY", "safetyRatings": ratings}
    if _sends_index(o, index):
        candidate["index"] = index
    return candidate


def _envelope(
    o: _Outcome,
    candidates: list[dict[str, Any]] | None,
    usage: dict[str, Any],
    *,
    feedback: bool = False,
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if candidates is not None:
        body["candidates"] = candidates
    if feedback:
        ratings = [
            {"category": c, "probability": "HIGH" if c == _BLOCKED_CATEGORY else "NEGLIGIBLE"}
            for c in _SAFETY_CATEGORIES
        ]
        body["promptFeedback"] = {"blockReason": "SAFETY", "safetyRatings": ratings}
    body["usageMetadata"] = usage
    body["modelVersion"] = o.model.model_version or o.model.id
    if o.backend == "vertex":
        body["createTime"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body["responseId"] = o.response_id
    return body


def _usage(o: _Outcome, output: int, *, final: bool) -> dict[str, Any]:
    prompt = sum(o.prompt_tokens.values())
    details = _details(o.prompt_tokens)
    candidates_count = output * len(_indices(o))
    early_2_0 = o.model.profile == "2.0" and not final
    usage: dict[str, Any] = {"promptTokenCount": prompt}
    if candidates_count and not early_2_0:
        usage["candidatesTokenCount"] = candidates_count
    thoughts = 0 if early_2_0 else o.thoughts
    usage["totalTokenCount"] = prompt + (0 if early_2_0 else candidates_count) + thoughts
    usage["promptTokensDetails"] = details
    if candidates_count and final and (o.model.profile == "2.0" or o.backend == "vertex"):
        usage["candidatesTokensDetails"] = [{"modality": "TEXT", "tokenCount": candidates_count}]
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    tool_tokens = _tool_use_tokens(o)
    if tool_tokens and o.backend == "gemini" and (final or o.request.url_context):
        # What the built-in tools added to the prompt (code and its output, fetched pages),
        # as the Gemini API reports it: pydantic-ai's test_code_execution (on the last chunk
        # of a stream) and test_google_model_web_fetch_tool (on every chunk). No Vertex
        # recording with a built-in tool has it.
        usage["toolUsePromptTokenCount"] = tool_tokens
        usage["toolUsePromptTokensDetails"] = [{"modality": "TEXT", "tokenCount": tool_tokens}]
    if o.backend == "vertex":
        usage["trafficType"] = "ON_DEMAND"
    elif o.model.profile != "2.0":
        usage["serviceTier"] = "standard"
    return usage


#: A URL in the prompt, for ``urlContext`` (trailing punctuation is not part of it).
_URL = re.compile(r"https?://[^\s<>\"'`]+[^\s<>\"'`.,;:!?)\]}]")
#: What the emulator bills for reading one page with ``urlContext`` (the recorded page,
#: ai.pydantic.dev, cost 2395 tool-use prompt tokens).
URL_PAGE_TOKENS = 1000


def _runs_code(o: _Outcome) -> bool:
    """The answer shows code it ran: ``codeExecution`` declared and a text answer."""
    return o.request.code_execution and o.call is None and bool(o.text)


def _code(o: _Outcome) -> tuple[str, str, str]:
    """(code, its output, the id linking them): the emulator "computes" its answer by
    printing it. Parts as recorded (pydantic-ai's test_code_execution, gemini-3-flash-
    preview): ``executableCode {code, id, language: PYTHON}`` then ``codeExecutionResult
    {id, outcome: OUTCOME_OK, output}``, the answer text last."""
    ident = hashlib.sha256(f"code:{o.response_id}".encode()).hexdigest()[:8]
    return f"print({o.text!r})\n", o.text + "\n", ident


def _urls_in(o: _Outcome) -> list[str]:
    """The distinct URLs of the prompt's text, in order (what ``urlContext`` reads)."""
    found: list[str] = []
    for turn in o.request.turns:
        for part in turn.parts:
            if isinstance(part, Text):
                found += [u for u in _URL.findall(part.text) if u not in found]
    return found


def _tool_use_tokens(o: _Outcome) -> int:
    if o.call is not None or not o.text:
        return 0
    tokens = 0
    if _runs_code(o):
        code, output, _ = _code(o)
        tokens += count_text_tokens(code + output)
    if o.request.url_context:
        tokens += URL_PAGE_TOKENS * len(_urls_in(o))
    return tokens


def _ground(
    o: _Outcome, candidates: list[dict[str, Any]], text: str | None, *, first: bool
) -> None:
    """``urlContext``: the pages the answer rests on, as recorded (pydantic-ai's
    test_google_model_web_fetch_tool, gemini-2.5-flash): ``groundingMetadata`` with one
    ``groundingChunks[].web {uri, title}`` per URL and a ``groundingSupports`` entry tying
    the whole text (UTF-8 byte offsets; a 0 ``startIndex`` left out, as proto3 JSON does) to
    them, and ``urlContextMetadata.urlMetadata[] {retrievedUrl, urlRetrievalStatus}``. In a
    stream (``text`` None but on the last chunk) the first chunk carries
    ``urlContextMetadata`` and an empty ``groundingMetadata``, the last one the grounding of
    the whole answer (test_google_model_web_fetch_tool_stream). Google Search is not
    grounded: see docs/emulator.md."""
    urls = _urls_in(o) if o.request.url_context and o.call is None and o.text else []
    if not urls:
        return
    chunks = [{"web": {"uri": u, "title": u.split("://", 1)[1].split("/")[0]}} for u in urls]
    grounding: dict[str, Any] = {}
    if text is not None:
        segment = {"endIndex": len(text.encode()), "text": text}
        grounding["groundingChunks"] = chunks
        grounding["groundingSupports"] = [
            {"segment": segment, "groundingChunkIndices": list(range(len(urls)))}
        ]
    for candidate in candidates:
        candidate["groundingMetadata"] = grounding
        if first:
            candidate["urlContextMetadata"] = {
                "urlMetadata": [
                    {"retrievedUrl": u, "urlRetrievalStatus": "URL_RETRIEVAL_STATUS_SUCCESS"}
                    for u in urls
                ]
            }


def _details(prompt_tokens: dict[str, int]) -> list[dict[str, Any]]:
    return [
        {"modality": m, "tokenCount": n} if n else {"modality": m}
        for m, n in sorted(prompt_tokens.items())
        if n or m != "TEXT"
    ] or [{"modality": "TEXT"}]


def _output_tokens(o: _Outcome) -> int:
    if o.call is not None:
        return count_text_tokens(f"{o.call.name} {json.dumps(o.call.args)}")
    return count_text_tokens(o.text)


def _indices(o: _Outcome) -> range:
    return range(o.request.candidate_count)


def _response_id(body: Any) -> str:
    """Derived from the request, so the same request gets the same answer, id included."""
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).digest()
    return base64.urlsafe_b64encode(digest[:17]).decode().rstrip("=")


def _signature(o: _Outcome) -> str:
    return base64.b64encode(hashlib.sha256(f"thought:{o.response_id}".encode()).digest()).decode()


def _model_or_404(call: Call, backend: Backend) -> GenerationModel:
    model = generation_model(call.model or "")
    if model is not None:
        return model
    if backend == "vertex":
        raise not_found(
            f"Publisher Model `{call.vertex_model_name}` was not found or your project does not "
            "have access to it. Please ensure you are using a valid model version. For more "
            "information, see: https://cloud.google.com/vertex-ai/generative-ai/docs/learn/"
            "model-versions"
        )
    raise not_found(
        f"models/{call.model} is not found for API version {call.version}, or is not supported "
        f"for {call.route}. Call ListModels to see the list of available models and their "
        "supported methods."
    )


@contextmanager
def _violations(backend: Backend, request_type: str = "GenerateContentRequest") -> Iterator[None]:
    """A `Violation` as each API words its 400s (see routes_gemini / routes_vertex)."""
    try:
        yield
    except Violation as exc:
        if backend == "vertex":
            where = f" (at '{exc.field}')" if exc.field else ""
            raise invalid_argument(f"Invalid request: {exc.problem}{where}.") from None
        field = f".{exc.field}" if exc.field else ""
        raise invalid_argument(f"* {request_type}{field}: {exc.problem}\n") from None
