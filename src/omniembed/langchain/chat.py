"""`ChatGemini`: a LangChain chat model over `GeminiGenerator`.

Thin by design: LangChain messages are read through their standard ``content_blocks``
(which already normalize OpenAI, Anthropic and legacy block formats), converted into
`omniembed.generation` messages, and the results turned back into ``AIMessage``s. Media
limits, Files API uploads, retries and safety errors live in the provider.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any, ClassVar, Literal

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    PydanticToolsParser,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.tools import BaseTool
from langchain_core.utils import secret_from_env
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, model_validator

from ..closing import Closeable
from ..errors import InvalidParameterError
from ..generation import (
    FileRef,
    Generation,
    GenerationChunk,
    GenerationConfig,
    MediaPart,
    Message,
    Part,
    ToolCall,
    ToolResult,
    ToolSpec,
    Usage,
)
from ..keywords import model_keywords
from ..media import Media
from ..providers.gemini_llm import GeminiGenerator
from ..providers.gemini_llm_models import DEFAULT_MODEL, llm_spec

_MEDIA_BLOCKS = ("image", "file", "audio", "video")


class ChatGemini(BaseChatModel, Closeable):
    """Gemini as a LangChain chat model that reads images, PDFs, audio and video.

    Accepts LangChain's standard content blocks (``{"type": "image", "base64"|"url"|
    "file_id": ...}``, ``file``, ``audio``, ``video``) and the OpenAI ``image_url`` form;
    video blocks take ``extras={"start_offset_sec", "end_offset_sec", "fps"}``. Supports
    ``bind_tools`` and ``with_structured_output``. Blocked prompts/responses raise
    `omniembed.BlockedContentError`.
    """

    model: str = Field(default=DEFAULT_MODEL, alias="model_name")
    api_key: SecretStr | None = Field(
        default_factory=secret_from_env(["GEMINI_API_KEY", "GOOGLE_API_KEY"], default=None),
        alias="google_api_key",
    )
    vertexai: bool = False
    project: str | None = None
    location: str | None = None
    base_url: str | None = None
    temperature: float | None = None
    max_tokens: int | None = Field(default=None, alias="max_output_tokens")
    top_p: float | None = None
    top_k: int | None = None
    stop: list[str] | None = Field(default=None, alias="stop_sequences")
    safety_settings: dict[str, str] | None = None
    timeout: float | None = 300.0
    max_retries: int = 6
    requests_per_minute: float | None = None
    streaming: bool = False
    """Stream under ``invoke`` too (callbacks see each token), as LangChain's chat models
    take it."""
    credentials: Any = Field(default=None, exclude=True)
    generator: GeminiGenerator | None = Field(default=None, exclude=True)

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)

    _generator: GeminiGenerator = PrivateAttr()
    #: The fields' other names (pydantic aliases), resolved before pydantic sees them so
    #: that two names of one field are an error rather than one silently winning.
    _aliases: ClassVar[dict[str, str]] = {
        "model_name": "model",
        "google_api_key": "api_key",
        "max_output_tokens": "max_tokens",
        "stop_sequences": "stop",
    }

    def __init__(self, model: str | None = None, /, **data: Any) -> None:
        """``model`` may be given by position; an unknown keyword raises
        `UnknownParameterError` naming the nearest field."""
        positional = None if model is None else ("model", model)
        super().__init__(**model_keywords(type(self), data, self._aliases, positional))

    @model_validator(mode="after")
    def _build_generator(self) -> ChatGemini:
        self._generator = self.generator or GeminiGenerator(
            self.model,
            api_key=self.api_key,
            vertexai=self.vertexai,
            project=self.project,
            location=self.location,
            credentials=self.credentials,
            base_url=self.base_url,
            requests_per_minute=self.requests_per_minute,
            max_retries=self.max_retries,
            timeout=self.timeout,
        )
        return self

    # --- LangChain metadata --------------------------------------------------------------

    @property
    def _llm_type(self) -> str:
        return "omniembed-gemini"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "backend": "vertex" if self.vertexai else "gemini-api",
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "top_p": self.top_p,
            "top_k": self.top_k,
            "stop": self.stop,
            "safety_settings": self.safety_settings,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider="google_vertexai" if self.vertexai else "google_genai",
            ls_model_name=kwargs.get("model", self.model),
            ls_model_type="chat",
        )
        temperature = kwargs.get("temperature", self.temperature)
        if temperature is not None:
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        if max_tokens is not None:
            params["ls_max_tokens"] = max_tokens
        if stop or self.stop:
            params["ls_stop"] = stop or self.stop
        return params

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        return ["omniembed", "langchain", "chat"]

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": "GEMINI_API_KEY"}

    @property
    def context_window(self) -> int:
        """Input token limit of the model (no network call)."""
        return llm_spec(self.model).context_window

    # --- closing (``with`` / ``async with`` come from `Closeable`) ------------------------

    def close(self) -> None:
        """Close the generator's connections (`GeminiGenerator.close`): idempotent, and
        the model cannot be used afterwards. A generator passed as ``generator=`` (and so
        shared with copies of this model) is closed too."""
        self._generator.close()

    async def aclose(self) -> None:
        """`close`, closing the running event loop's connections in it first."""
        await self._generator.aclose()

    # --- generation ----------------------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        system, turns = to_gemini_messages(messages, self._generator)
        result = self._generator.generate(
            turns, system=system, config=self._config(stop, kwargs), model=kwargs.get("model")
        )
        return _chat_result(result)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        system, turns = to_gemini_messages(messages, self._generator)
        result = await self._generator.agenerate(
            turns, system=system, config=self._config(stop, kwargs), model=kwargs.get("model")
        )
        return _chat_result(result)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        system, turns = to_gemini_messages(messages, self._generator)
        stream = _StreamState()
        for chunk in self._generator.stream(
            turns, system=system, config=self._config(stop, kwargs), model=kwargs.get("model")
        ):
            out = stream.chunk(chunk)
            if run_manager and chunk.text:
                run_manager.on_llm_new_token(chunk.text, chunk=out)
            yield out
        yield stream.final()

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        system, turns = to_gemini_messages(messages, self._generator)
        stream = _StreamState()
        async for chunk in self._generator.astream(
            turns, system=system, config=self._config(stop, kwargs), model=kwargs.get("model")
        ):
            out = stream.chunk(chunk)
            if run_manager and chunk.text:
                await run_manager.on_llm_new_token(chunk.text, chunk=out)
            yield out
        yield stream.final()

    def _config(self, stop: list[str] | None, kwargs: Mapping[str, Any]) -> GenerationConfig:
        tools = [_tool_spec(t) for t in kwargs.get("tools") or []]
        config = GenerationConfig(
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            max_output_tokens=self.max_tokens,
            stop_sequences=self.stop or None,
            safety_settings=self.safety_settings,
        )
        return config.merged(
            temperature=kwargs.get("temperature"),
            top_p=kwargs.get("top_p"),
            top_k=kwargs.get("top_k"),
            max_output_tokens=kwargs.get("max_tokens"),
            stop_sequences=stop or None,
            safety_settings=kwargs.get("safety_settings"),
            tools=tools or None,
            tool_choice=kwargs.get("tool_choice"),
            response_mime_type=kwargs.get("response_mime_type"),
            response_schema=kwargs.get("response_schema"),
        )

    # --- tools and structured output -----------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | bool | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Let the model call ``tools`` (LangChain tools, functions, pydantic models, JSON
        schemas, OpenAI or Anthropic tool dicts). ``tool_choice``: ``"auto"``, ``"any"``
        / ``"required"`` / ``True``, ``"none"`` or a tool name."""
        formatted = [convert_to_openai_tool(tool)["function"] for tool in tools]
        choice = _tool_choice(tool_choice)
        if choice is not None:
            kwargs["tool_choice"] = choice
        return super().bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        method: Literal["json_schema", "function_calling", "json_mode"] = "json_schema",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """Answers that conform to ``schema`` (pydantic class, TypedDict or JSON Schema).

        ``json_schema`` (default) uses Gemini's native JSON output with the schema;
        ``function_calling`` forces a tool call; ``json_mode`` asks for any JSON object.
        ``strict`` is accepted for compatibility: Gemini always enforces the schema.
        """
        if kwargs:
            raise InvalidParameterError(f"unexpected arguments {sorted(kwargs)}")
        is_pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
        # LangSmith and the callbacks see which schema and method were asked for.
        traced = {
            "ls_structured_output_format": {
                "kwargs": {"method": method, "strict": strict},
                "schema": convert_to_json_schema(schema) if schema is not None else None,
            }
        }
        parser: Runnable[Any, Any]
        if method == "function_calling":
            if schema is None:
                raise InvalidParameterError("method='function_calling' needs a schema")
            name = convert_to_openai_tool(schema)["function"]["name"]
            llm = self.bind_tools([schema], tool_choice=name, **traced)
            parser = (
                PydanticToolsParser(tools=[schema], first_tool_only=True)  # type: ignore[list-item]
                if is_pydantic
                else JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
            )
        elif method == "json_mode":
            llm = self.bind(response_mime_type="application/json", **traced)
            parser = (
                PydanticOutputParser(pydantic_object=schema)  # type: ignore[arg-type]
                if is_pydantic
                else JsonOutputParser()
            )
        elif method == "json_schema":
            if schema is None:
                raise InvalidParameterError("method='json_schema' needs a schema")
            llm = self.bind(
                response_mime_type="application/json",
                response_schema=_json_schema(schema),
                **traced,
            )
            parser = (
                PydanticOutputParser(pydantic_object=schema)  # type: ignore[arg-type]
                if is_pydantic
                else JsonOutputParser()
            )
        else:
            raise InvalidParameterError(
                f"method={method!r} is not one of 'json_schema', 'function_calling', 'json_mode'"
            )
        if not include_raw:
            return llm | parser
        parsed = RunnablePassthrough.assign(
            parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
        )
        fallback = RunnablePassthrough.assign(parsed=lambda _: None)
        return RunnableMap(raw=llm) | parsed.with_fallbacks(
            [fallback], exception_key="parsing_error"
        )


# --- LangChain -> omniembed messages ---------------------------------------------------------


def to_gemini_messages(
    messages: Sequence[BaseMessage], generator: GeminiGenerator
) -> tuple[list[Part], list[Message]]:
    """System parts and Gemini turns from LangChain messages (consecutive turns of one role
    are merged, since Gemini expects alternating roles)."""
    system: list[Part] = []
    turns: list[Message] = []
    tool_names: dict[str, str] = {}
    for message in messages:
        if isinstance(message, SystemMessage):
            system.extend(p for p in _block_parts(message, generator) if isinstance(p, str))
            continue
        if isinstance(message, AIMessage):
            role = "model"
            parts = [p for p in _block_parts(message, generator) if not _is_tool_call(p)]
            for call in message.tool_calls:
                if call.get("id"):
                    tool_names[str(call["id"])] = call["name"]
                parts.append(ToolCall(call["name"], call.get("args") or {}, call.get("id")))
        elif isinstance(message, ToolMessage):
            role = "user"
            parts = _tool_result_parts(message, tool_names, generator)
        else:
            role = "user"
            parts = _block_parts(message, generator)
        if not parts:
            continue
        if turns and turns[-1].role == role:
            turns[-1].parts.extend(parts)
        else:
            turns.append(Message(role, parts))  # type: ignore[arg-type]
    return system, turns


def _is_tool_call(part: Part) -> bool:
    return isinstance(part, ToolCall)


def _block_parts(message: BaseMessage, generator: GeminiGenerator) -> list[Part]:
    parts: list[Part] = []
    for block in message.content_blocks:
        part = _block_part(dict(block), generator)
        if part is not None:
            parts.append(part)
    return parts


def _block_part(block: dict[str, Any], generator: GeminiGenerator) -> Part | None:
    kind = block.get("type")
    if kind in ("text", "text-plain"):
        return str(block.get("text") or "") or None
    if kind in _MEDIA_BLOCKS:
        return _media_part(block, generator)
    if kind == "non_standard":
        value = block.get("value") or {}
        if isinstance(value, dict) and value.get("type") == "tool_result":
            return _text_of(value.get("content")) or None
        return None  # e.g. an Anthropic tool_use block, already in message.tool_calls
    if kind in ("reasoning", "tool_call", "tool_call_chunk", "invalid_tool_call"):
        return None  # the model's own reasoning/tool calls are sent from tool_calls
    raise InvalidParameterError(
        f"ChatGemini cannot send a {kind!r} content block; use text, image, file, audio "
        "or video blocks"
    )


def _media_part(block: dict[str, Any], generator: GeminiGenerator) -> Part:
    mime = block.get("mime_type")
    extras = block.get("extras") or {}
    video = {key: extras.get(key) for key in ("start_offset_sec", "end_offset_sec", "fps")}
    if block.get("file_id"):
        return FileRef(generator.file_uri(str(block["file_id"])), mime, **video)
    if block.get("base64"):
        media = Media.from_bytes(base64.b64decode(block["base64"]), mime)
    elif block.get("url"):
        media = Media.from_uri(str(block["url"]), mime)
    else:
        raise InvalidParameterError(
            f"a {block.get('type')} block needs base64, url or file_id data"
        )
    if any(value is not None for value in video.values()):
        return MediaPart(media, **video)
    return media


def _tool_result_parts(
    message: ToolMessage, tool_names: Mapping[str, str], generator: GeminiGenerator
) -> list[Part]:
    name = message.name or tool_names.get(message.tool_call_id) or "tool"
    blocks = [dict(b) for b in message.content_blocks]
    texts = [str(b.get("text") or "") for b in blocks if b.get("type") in ("text", "text-plain")]
    media = [_media_part(b, generator) for b in blocks if b.get("type") in _MEDIA_BLOCKS]
    text = "".join(texts) if isinstance(message.content, list) else str(message.content)
    response: Any
    try:
        response = json.loads(text) if text else ""
    except ValueError:
        response = text
    if message.status == "error":
        response = {"error": response}
    elif not isinstance(response, dict):
        response = {"result": response}
    parts: list[Part] = [ToolResult(name, response, message.tool_call_id)]
    return parts + media  # media a tool returned follows its result in the same turn


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(b.get("text", "")) if isinstance(b, dict) else str(b) for b in content)
    return ""


def _tool_spec(tool: Mapping[str, Any]) -> ToolSpec:
    return ToolSpec(
        name=str(tool["name"]),
        description=str(tool.get("description") or ""),
        parameters=tool.get("parameters"),
    )


def _tool_choice(choice: str | bool | dict[str, Any] | None) -> str | None:
    if choice is None or choice is False:
        return None
    if choice is True:
        return "any"
    if isinstance(choice, dict):
        function = choice.get("function") or {}
        name = function.get("name") or choice.get("name")
        if not name:
            raise InvalidParameterError(f"tool_choice={choice!r} names no function")
        return str(name)
    return str(choice)


def _json_schema(schema: dict[str, Any] | type) -> dict[str, Any]:
    converted = convert_to_json_schema(schema)
    return dict(converted)


# --- omniembed -> LangChain results ----------------------------------------------------------


def _usage(usage: Usage | None) -> UsageMetadata | None:
    if usage is None:
        return None
    metadata = UsageMetadata(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens or usage.prompt_tokens + usage.output_tokens,
    )
    if usage.thoughts_tokens:
        metadata["output_token_details"] = {"reasoning": usage.thoughts_tokens}
    if usage.cached_tokens:
        metadata["input_token_details"] = {"cache_read": usage.cached_tokens}
    return metadata


def _response_metadata(result: Generation | GenerationChunk) -> dict[str, Any]:
    return {
        "finish_reason": result.finish_reason,
        "model_name": result.model_version,
        "model_provider": "google_genai",
        "response_id": result.response_id,
    }


def _chat_result(result: Generation) -> ChatResult:
    message = AIMessage(
        content=result.text,
        tool_calls=[
            {"name": c.name, "args": dict(c.args), "id": c.id or f"call_{i}", "type": "tool_call"}
            for i, c in enumerate(result.tool_calls)
        ],
        usage_metadata=_usage(result.usage),
        response_metadata=_response_metadata(result),
        id=result.response_id,
    )
    return ChatResult(generations=[ChatGeneration(message=message)])


class _StreamState:
    """Chunks for LangChain: LangChain sums ``usage_metadata`` over chunks, while Gemini
    reports running totals, so usage is sent once, on a final chunk."""

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self.last: GenerationChunk | None = None
        self.tool_index = 0

    def chunk(self, chunk: GenerationChunk) -> ChatGenerationChunk:
        self.usage = chunk.usage or self.usage
        self.last = chunk
        calls = []
        for call in chunk.tool_calls:
            calls.append(
                tool_call_chunk(
                    name=call.name,
                    args=json.dumps(dict(call.args)),
                    id=call.id or f"call_{self.tool_index}",
                    index=self.tool_index,
                )
            )
            self.tool_index += 1
        return ChatGenerationChunk(
            message=AIMessageChunk(content=chunk.text, tool_call_chunks=calls, id=chunk.response_id)
        )

    def final(self) -> ChatGenerationChunk:
        metadata = _response_metadata(self.last) if self.last else {}
        return ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata=_usage(self.usage),
                response_metadata=metadata,
                chunk_position="last",
                id=self.last.response_id if self.last else None,
            )
        )
