"""The generation stand-in's answer: deterministic and grounded in what it received.

Not a model. The rules (also in docs/emulator.md):

- Text: the context sentence (system instruction, every user turn's text, text files, PDF
  page text, function results) sharing the most content words with the last user question,
  followed by a note of the media seen, e.g. ``[seen: image/png 64x64, mostly blue;
  video/mp4 0s-4s at 1 fps, mostly orange]``. A question naming a colour is answered with
  the media seen in that colour, by the text label right before each; a question about
  sound ("What do you hear?") is answered with what each audio part "heard" (see
  `generate_media`: "Heard a steady tone near 440 Hz (Source [1]: tone.wav)."). After a
  ``functionResponse`` the answer quotes the function's result.
- Function calling: see `choose_function`; ``args`` come from `schema_synth`.
- ``application/json``: an instance of the response schema; without one, an object with
  the keys the question quotes (JSON mode: "a JSON with 'setup' and 'punchline' keys"),
  else ``{"answer": text}``;
  ``text/x.enum``: the enum value the prompt mentions, else the first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .colours import colour_words
from .generate_media import Seen
from .generate_request import FunctionCall, FunctionDecl, FunctionResponse, GenerateRequest, Text
from .prompt_words import content_words, quoted, sentences
from .schema_synth import synthesize

#: A prompt containing this is blocked: no candidates, ``promptFeedback.blockReason``.
BLOCK_PROMPT = "EMULATOR_BLOCK_PROMPT"
#: A prompt containing this gets a candidate stopped with ``finishReason: SAFETY``.
BLOCK_RESPONSE = "EMULATOR_BLOCK_RESPONSE"


@dataclass(frozen=True)
class Answer:
    text: str = ""
    call: FunctionCall | None = None


def answer(request: GenerateRequest, seen: list[Seen]) -> Answer:
    question = last_user_text(request)
    results = _last_function_results(request)
    if request.functions and request.calling_mode != "NONE":
        call = _next_call(request, question, results)
        if call is not None:
            return Answer(call=call)
    if results:
        text = " ".join(f"{r.name} returned {_render(r.response)}." for r in results)
    else:
        text = (
            _by_colour(question, seen)
            or _by_sound(question, seen)
            or grounded_sentence(request, seen, question)
        )
    notes = [s.note for s in seen if s.note]
    if notes:
        text = f"{text} [seen: {'; '.join(notes)}]".strip()
    if request.response_mime_type == "application/json":
        if request.response_schema is None:
            return Answer(json.dumps(_schemaless_json(question, text), ensure_ascii=False))
        value = synthesize(request.response_schema, question)
        return Answer(json.dumps(value, ensure_ascii=False))
    if request.response_mime_type == "text/x.enum":
        value = synthesize(request.response_schema, question)
        return Answer(value if isinstance(value, str) else json.dumps(value))
    return Answer(text)


def last_user_text(request: GenerateRequest) -> str:
    """The text of the last user turn that has text (the question; turns carrying only
    function results are skipped)."""
    for turn in reversed(request.turns):
        texts = [p.text for p in turn.parts if isinstance(p, Text)]
        if turn.role == "user" and texts:
            return "\n".join(texts)
    return ""


def all_text(request: GenerateRequest) -> str:
    """Every text the request carries (for the safety triggers)."""
    texts = list(request.system)
    for turn in request.turns:
        texts += [p.text for p in turn.parts if isinstance(p, Text)]
    return "\n".join(texts)


def _focus(question: str) -> str:
    """The question itself: the turn's last sentence ending in "?", else its last line
    (earlier lines are context)."""
    asked = [s for s in sentences(question) if s.endswith("?")]
    lines = [line for line in question.splitlines() if line.strip()]
    return asked[-1] if asked else (lines[-1] if lines else question)


def _by_colour(question: str, seen: list[Seen]) -> str:
    """For a question naming colours: the media seen in those colours, by their labels."""
    wanted = colour_words(_focus(question))
    matches = [s for s in seen if s.colour is not None and s.colour in wanted]
    if not matches:
        return ""
    names = "; ".join(s.label or s.note.split(",")[0] for s in matches)
    return f"Mostly {' or '.join(wanted)}: {names}."


#: Words that make a question about the audio parts.
_SOUND_WORDS = frozenset(
    {"audio", "hear", "heard", "hearing", "listen", "listening", "sound", "noise", "tone"}
    | {"recording", "music", "song"}
)


def _by_sound(question: str, seen: list[Seen]) -> str:
    """For a question about sound: what each audio part "heard", by its label."""
    if not _SOUND_WORDS & set(content_words(_focus(question))):
        return ""
    heard = [s for s in seen if s.heard is not None]
    if not heard:
        return ""
    return (
        "Heard " + "; ".join(f"{s.heard} ({s.label or s.note.split(',')[0]})" for s in heard) + "."
    )


def grounded_sentence(request: GenerateRequest, seen: list[Seen], question: str) -> str:
    """The context sentence that best overlaps the question's content words."""
    asked = [s for s in sentences(question) if s.endswith("?")]
    focus = _focus(question)
    wanted = set(content_words(focus))
    context: list[str] = list(request.system)
    for turn in request.turns:
        if turn.role == "model":
            continue  # the model's own earlier answers are not evidence
        for part in turn.parts:
            if isinstance(part, Text):
                context.append(part.text)
            elif isinstance(part, FunctionResponse):
                context.append(f"{part.name} returned {_render(part.response)}.")
    context += [s.text for s in seen if s.text]
    excluded = set(asked) if asked else set(sentences(focus))
    best, best_score = "", 0
    for text in context:
        for sentence in sentences(text):
            if sentence in excluded or sentence.endswith("?"):
                continue
            score = len(wanted & set(content_words(sentence)))
            if score > best_score:
                best, best_score = sentence, score
    if best:
        return best
    if not focus.strip():
        return "No question was asked."
    return f'Nothing in the context answers "{focus.strip()}".'


def choose_function(request: GenerateRequest, question: str) -> FunctionDecl | None:
    """The declared function to call, or None to answer with text.

    Score: the function's name written in the prompt (``get_weather`` or "get weather")
    outweighs prompt words in its name, which outweigh words in its description. Mode ANY
    (or ``allowedFunctionNames``) always calls the best; AUTO and VALIDATED call only when
    the name or a name word is mentioned, or two description words are.
    """
    allowed = request.allowed_functions
    candidates = [f for f in request.functions if not allowed or f.name in allowed]
    if not candidates:
        return None
    lower = question.lower()
    wanted = set(content_words(question))

    def score(decl: FunctionDecl) -> tuple[int, int, int]:
        spaced = decl.name.replace("_", " ").replace(".", " ").replace("-", " ")
        mentioned = decl.name.lower() in lower or spaced.lower() in lower
        return (int(mentioned), len(wanted & set(content_words(spaced))),
                len(wanted & set(content_words(decl.description))))  # fmt: skip

    scored = [(score(d), -i, d) for i, d in enumerate(candidates)]
    (mentioned, in_name, in_description), _, best = max(scored, key=lambda t: (t[0], t[1]))
    if request.calling_mode == "ANY" or mentioned or in_name or in_description >= 2:
        return best
    return None


def _next_call(
    request: GenerateRequest, question: str, results: list[FunctionResponse]
) -> FunctionCall | None:
    """The call to make now. Before any result: `choose_function`. After results (as the
    recordings show the service doing): a result with an ``error`` key retries that function
    with arguments taken from the error text first ('Use "La France" instead'); else a
    declared function not yet called that the question asks for is called with arguments
    from the results; else None (answer with text)."""
    if not results:
        chosen = choose_function(request, question)
        return FunctionCall(chosen.name, _args(chosen, question)) if chosen else None
    declared = {d.name: d for d in request.functions}
    failed = results[-1]
    if "error" in failed.response and failed.name in declared:
        hint = f"{_render({'error': failed.response['error']})} {question}"
        return FunctionCall(failed.name, _args(declared[failed.name], hint))
    called = {p.name for t in request.turns for p in t.parts if isinstance(p, FunctionCall)}
    pending = [d for d in request.functions if d.name not in called]
    if not pending:
        return None
    narrowed = GenerateRequest(turns=request.turns, functions=pending, calling_mode="AUTO",
                               allowed_functions=[n for n in request.allowed_functions
                                                  if n in {d.name for d in pending}])  # fmt: skip
    chosen = choose_function(narrowed, question)
    if chosen is None:
        return None
    facts = " ".join(f"{r.name} returned {_render(r.response)}." for r in results)
    return FunctionCall(chosen.name, _args(chosen, f"{facts} {question}"))


def _args(decl: FunctionDecl, question: str) -> dict[str, Any]:
    value = synthesize(decl.schema, question)
    return value if isinstance(value, dict) else {}


def _last_function_results(request: GenerateRequest) -> list[FunctionResponse]:
    if not request.turns or request.turns[-1].role != "user":
        return []
    return [p for p in request.turns[-1].parts if isinstance(p, FunctionResponse)]


def _render(response: dict[str, Any]) -> str:
    """A function result as prose: a lone value as is, else ``key: value`` pairs."""
    if len(response) == 1:
        (value,) = response.values()
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return ", ".join(
        f"{k}: {v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}"
        for k, v in response.items()
    )


def _schemaless_json(question: str, text: str) -> dict[str, Any]:
    keys = [q for q in quoted(question) if q.isidentifier()]
    if not keys:
        return {"answer": text}
    schema = {
        "type": "object",
        "properties": {key: {"type": "string"} for key in keys},
        "required": keys,
    }
    value: dict[str, Any] = synthesize(schema, question)
    return value
