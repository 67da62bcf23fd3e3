"""`GeminiMultiModalLLM`: a LlamaIndex `LLM` over `GeminiGenerator`.

Thin by design: it turns LlamaIndex chat messages and content blocks into
`omniembed.generation` messages and the results back; media limits, uploads, retries and
safety errors live in `omniembed.providers.gemini_llm`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.base.llms.generic_utils import (
    astream_chat_response_to_completion_response,
    chat_response_to_completion_response,
    image_node_to_image_block,
    stream_chat_response_to_completion_response,
)
from llama_index.core.base.llms.types import (
    AudioBlock,
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    DocumentBlock,
    ImageBlock,
    LLMMetadata,
    MessageRole,
    TextBlock,
    ToolCallBlock,
    VideoBlock,
)
from llama_index.core.bridge.pydantic import Field, PrivateAttr, SecretStr
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.llm import LLM
from llama_index.core.schema import ImageNode

from ..closing import Closeable
from ..errors import InvalidParameterError
from ..generation import (
    Generation,
    GenerationChunk,
    GenerationConfig,
    MediaPart,
    Message,
    Part,
    ToolCall,
    ToolResult,
)
from ..keywords import model_keywords
from ..media import Media
from ..providers.gemini_llm import GeminiGenerator
from ..providers.gemini_llm_models import DEFAULT_MODEL, llm_spec


class VideoClipBlock(VideoBlock):
    """A `VideoBlock` limited to ``[start_offset_sec, end_offset_sec)`` of the video."""

    start_offset_sec: float | None = None
    end_offset_sec: float | None = None


class GeminiMultiModalLLM(LLM, Closeable):
    """Gemini as a LlamaIndex LLM that reads images, PDFs, video and audio.

    Pass it as ``llm=`` anywhere (``Settings.llm``, ``index.as_query_engine(llm=...)``,
    ``RetrieverQueryEngine.from_args(mm_index.as_retriever(), llm=..., multimodal=True)``
    for retrieved images). Messages may hold `TextBlock`,
    `ImageBlock`, `DocumentBlock` (PDF), `VideoBlock` / `VideoClipBlock` (fps, offsets)
    and `AudioBlock`. Large media go through the Files API (Gemini API) or must be gs://
    URIs (Vertex AI). Blocked prompts/responses raise `omniembed.BlockedContentError`.
    """

    model: str = Field(default=DEFAULT_MODEL, description="The Gemini model name.")
    api_key: SecretStr | None = Field(
        default=None,
        exclude=True,
        description="Gemini API key (default: GEMINI_API_KEY / GOOGLE_API_KEY); never serialized.",
    )
    vertexai: bool = Field(default=False, description="Use Vertex AI instead of the Gemini API.")
    project: str | None = Field(default=None, description="Vertex AI project.")
    location: str | None = Field(default=None, description="Vertex AI location.")
    base_url: str | None = Field(default=None, description="Proxy, regional endpoint or emulator.")
    temperature: float | None = Field(default=None, description="Sampling temperature.")
    top_p: float | None = Field(default=None, description="Nucleus sampling mass.")
    top_k: int | None = Field(default=None, description="Top-k sampling.")
    max_tokens: int | None = Field(default=None, description="Maximum output tokens.")
    stop_sequences: list[str] | None = Field(default=None, description="Stop sequences.")
    safety_settings: dict[str, str] | None = Field(
        default=None, description='Harm category -> threshold, e.g. {"HARM_CATEGORY_...": ...}.'
    )
    requests_per_minute: float | None = Field(default=None, description="Client-side pacing.")
    max_retries: int = Field(default=6, description="Retries of 5xx, timeouts and resets.")
    timeout: float | None = Field(default=300.0, description="Per-request timeout (seconds).")

    _generator: GeminiGenerator | None = PrivateAttr(default=None)
    _credentials: Any = PrivateAttr(default=None)

    def __init__(
        self,
        model: str | None = None,
        *,
        api_key: str | SecretStr | None = None,
        credentials: Any | None = None,
        generator: GeminiGenerator | None = None,
        **kwargs: Any,
    ) -> None:
        """``model`` (alias ``model_name``) may be given by position; an unknown keyword
        raises `UnknownParameterError` naming the nearest field."""
        if isinstance(api_key, str):
            api_key = SecretStr(api_key)
        positional = None if model is None else ("model", model)
        fields = model_keywords(type(self), kwargs, {"model_name": "model"}, positional)
        fields.setdefault("model", DEFAULT_MODEL)
        super().__init__(api_key=api_key, **fields)  # type: ignore[call-arg]
        self._credentials = credentials
        self._generator = generator or self._build_generator()

    @classmethod
    def class_name(cls) -> str:
        return "GeminiMultiModalLLM"

    def _build_generator(self) -> GeminiGenerator:
        return GeminiGenerator(
            self.model,
            api_key=self.api_key,
            vertexai=self.vertexai,
            project=self.project,
            location=self.location,
            credentials=self._credentials,
            base_url=self.base_url,
            requests_per_minute=self.requests_per_minute,
            max_retries=self.max_retries,
            timeout=self.timeout,
        )

    @property
    def generator(self) -> GeminiGenerator:
        """The provider object doing the work (rebuilt from the environment after unpickling)."""
        if self._generator is None:
            self._generator = self._build_generator()
        return self._generator

    @property
    def metadata(self) -> LLMMetadata:
        spec = llm_spec(self.model)
        return LLMMetadata(
            context_window=spec.context_window,
            num_output=self.max_tokens or spec.max_output_tokens,
            is_chat_model=True,
            is_function_calling_model=False,
            model_name=self.model,
            system_role=MessageRole.SYSTEM,
        )

    # --- closing (``with`` / ``async with`` come from `Closeable`) ------------------------

    def close(self) -> None:
        """Close the generator's connections (`GeminiGenerator.close`): idempotent, and
        the LLM cannot be used afterwards. A generator given as ``generator=`` is closed
        too."""
        if self._generator is not None:
            self._generator.close()

    async def aclose(self) -> None:
        """`close`, closing the running event loop's connections in it first."""
        if self._generator is not None:
            await self._generator.aclose()

    # --- chat ----------------------------------------------------------------------------

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        system, turns = to_gemini_messages(messages)
        result = self.generator.generate(turns, system=system, config=self._config(kwargs))
        return _chat_response(result)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        system, turns = to_gemini_messages(messages)
        result = await self.generator.agenerate(turns, system=system, config=self._config(kwargs))
        return _chat_response(result)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        system, turns = to_gemini_messages(messages)
        chunks = self.generator.stream(turns, system=system, config=self._config(kwargs))

        def gen() -> ChatResponseGen:
            text = ""
            for chunk in chunks:
                text += chunk.text
                yield _chunk_response(chunk, text)

        return gen()

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        system, turns = to_gemini_messages(messages)
        config = self._config(kwargs)

        async def gen() -> ChatResponseAsyncGen:
            text = ""
            async for chunk in self.generator.astream(turns, system=system, config=config):
                text += chunk.text
                yield _chunk_response(chunk, text)

        return gen()

    # --- completion ----------------------------------------------------------------------

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Complete ``prompt``; ``image_documents`` (ImageNodes/ImageBlocks) go with it."""
        messages = _prompt_messages(prompt, kwargs)
        return chat_response_to_completion_response(self.chat(messages, **kwargs))

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        messages = _prompt_messages(prompt, kwargs)
        return chat_response_to_completion_response(await self.achat(messages, **kwargs))

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        messages = _prompt_messages(prompt, kwargs)
        return stream_chat_response_to_completion_response(self.stream_chat(messages, **kwargs))

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        messages = _prompt_messages(prompt, kwargs)
        return astream_chat_response_to_completion_response(
            await self.astream_chat(messages, **kwargs)
        )

    # --- helpers -------------------------------------------------------------------------

    def _config(self, overrides: dict[str, Any]) -> GenerationConfig:
        config = GenerationConfig(
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            max_output_tokens=self.max_tokens,
            stop_sequences=self.stop_sequences,
            safety_settings=self.safety_settings,
        )
        return config.merged(
            temperature=overrides.get("temperature"),
            top_p=overrides.get("top_p"),
            top_k=overrides.get("top_k"),
            max_output_tokens=overrides.get("max_tokens"),
            stop_sequences=overrides.get("stop_sequences") or overrides.get("stop"),
            safety_settings=overrides.get("safety_settings"),
            response_schema=overrides.get("response_schema"),
        )

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        # The key stays out of pickles; the unpickled copy reads it from the environment.
        state["__dict__"].pop("api_key", None)
        private = state.get("__pydantic_private__") or {}
        private.pop("_generator", None)
        private.pop("_credentials", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        values = dict(state["__dict__"])
        values.pop("callback_manager", None)
        model = values.pop("model", DEFAULT_MODEL)
        # Build lazily: credentials may only exist in the unpickling process's environment.
        LLM.__init__(self, model=model, **values)  # type: ignore[call-arg]
        self._generator = None
        self._credentials = None


# --- LlamaIndex -> omniembed messages --------------------------------------------------------


def to_gemini_messages(
    messages: Sequence[ChatMessage],
) -> tuple[list[Part], list[Message]]:
    """System text and Gemini turns from LlamaIndex chat messages (consecutive turns of one
    role are merged, as Gemini expects alternating roles)."""
    system: list[Part] = []
    turns: list[Message] = []
    for message in messages:
        if message.role == MessageRole.SYSTEM:
            system.extend(p for p in _parts(message) if isinstance(p, str))
            continue
        if message.role in (MessageRole.TOOL, MessageRole.FUNCTION):
            name = str(
                message.additional_kwargs.get("name")
                or message.additional_kwargs.get("tool_call_id")
                or "tool"
            )
            call_id = message.additional_kwargs.get("tool_call_id")
            parts: list[Part] = [ToolResult(name, message.content or "", call_id)]
            role = "user"
        else:
            is_model = message.role in (
                MessageRole.ASSISTANT,
                MessageRole.MODEL,
                MessageRole.CHATBOT,
            )
            role = "model" if is_model else "user"
            parts = _parts(message)
        if not parts:
            continue
        if turns and turns[-1].role == role:
            turns[-1].parts.extend(parts)
        else:
            turns.append(Message(role, parts))  # type: ignore[arg-type]
    return system, turns


def _parts(message: ChatMessage) -> list[Part]:
    parts: list[Part] = []
    for block in message.blocks:
        part = _part(block)
        if part is not None:
            parts.append(part)
    return parts


def _part(block: Any) -> Part | None:
    if isinstance(block, TextBlock):
        return block.text or None
    if isinstance(block, ImageBlock):
        return _media(block.path, block.url, block.image_mimetype, block.resolve_image)
    if isinstance(block, DocumentBlock):
        return _media(block.path, block.url, block.document_mimetype, block.resolve_document)
    if isinstance(block, AudioBlock):
        mime = _audio_mime(block.format)
        return _media(block.path, block.url, mime, block.resolve_audio)
    if isinstance(block, VideoBlock):
        media = _media(block.path, block.url, block.video_mimetype, block.resolve_video)
        start = getattr(block, "start_offset_sec", None)
        end = getattr(block, "end_offset_sec", None)
        if start is None and end is None and block.fps is None:
            return media
        return MediaPart(media, start, end, float(block.fps) if block.fps else None)
    if isinstance(block, ToolCallBlock):
        args = block.tool_kwargs if isinstance(block.tool_kwargs, dict) else {}
        return ToolCall(block.tool_name, args, block.tool_call_id)
    if type(block).__name__ in ("ThinkingBlock", "CachePoint"):
        return None  # the model's own reasoning and cache hints are not resent
    raise InvalidParameterError(
        f"GeminiMultiModalLLM cannot send a {type(block).__name__}; use text, image, "
        "document, audio or video blocks"
    )


def _media(path: Any, url: Any, mime: str | None, resolve: Any) -> Media:
    if path is not None:
        return Media.from_path(path, mime)
    if url is not None:
        return Media.from_uri(str(url), mime)
    # In-memory blocks keep base64 text; resolve() decodes it.
    return Media.from_bytes(resolve().read(), mime)


def _audio_mime(fmt: str | None) -> str | None:
    if not fmt:
        return None
    fmt = fmt.lower()
    return fmt if "/" in fmt else {"mp3": "audio/mpeg"}.get(fmt, f"audio/{fmt}")


def _prompt_messages(prompt: str, kwargs: dict[str, Any]) -> list[ChatMessage]:
    """The prompt as one user message, after any ``image_documents`` (MultiModalLLM style)."""
    blocks: list[Any] = []
    for image in kwargs.pop("image_documents", None) or []:
        if isinstance(image, ImageNode):
            image = image_node_to_image_block(image)
        blocks.append(image)
    blocks.append(TextBlock(text=prompt))
    return [ChatMessage(role=MessageRole.USER, blocks=blocks)]


# --- omniembed -> LlamaIndex responses -------------------------------------------------------


def _usage_kwargs(result: Generation | GenerationChunk) -> dict[str, Any]:
    out: dict[str, Any] = {"finish_reason": result.finish_reason, "model": result.model_version}
    if result.usage is not None:
        out.update(
            prompt_tokens=result.usage.prompt_tokens,
            completion_tokens=result.usage.output_tokens,
            total_tokens=result.usage.total_tokens,
        )
    if result.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "name": c.name, "args": dict(c.args)} for c in result.tool_calls
        ]
    return out


def _assistant(text: str, result: Generation | GenerationChunk) -> ChatMessage:
    blocks: list[Any] = [TextBlock(text=text)] if text else []
    blocks += [
        ToolCallBlock(tool_call_id=c.id, tool_name=c.name, tool_kwargs=dict(c.args))
        for c in result.tool_calls
    ]
    return ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks)


def _chat_response(result: Generation) -> ChatResponse:
    return ChatResponse(
        message=_assistant(result.text, result),
        raw=result.raw,
        additional_kwargs=_usage_kwargs(result),
    )


def _chunk_response(chunk: GenerationChunk, text_so_far: str) -> ChatResponse:
    return ChatResponse(
        message=_assistant(text_so_far, chunk),
        delta=chunk.text,
        raw=chunk.raw,
        additional_kwargs=_usage_kwargs(chunk),
    )
