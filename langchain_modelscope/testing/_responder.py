"""The default responder: deterministic answers that look like a helpful model's.

No randomness and no model: words of the question pick tools and fill arguments from the
tools' JSON schemas, so that client tests (and langchain-tests' standard suite) get the
answers they ask for, e.g. `magic_function` with `{"input": 3}` for "magic_function(3)".
"""

from __future__ import annotations

import json
import mimetypes
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from langchain_modelscope.testing._catalogue import ModelInfo

_STOPWORDS_TEXT = """
    a an the and or but if of to in on at by for with about from into over under as is are was
    were be been being am do does did done have has had having i me my we us our you your he she
    it its they them their this that these those what which who whom whose when where why how
    can could would should will shall may might must please use using used tool tools function
    functions call calling value values result results tell give get show let make answer
    question then also just some any all each so than too very not no yes there here s t
    only other nothing return returns json keys key
"""
_STOPWORDS = frozenset(_STOPWORDS_TEXT.split())

_WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)
_NUMBER_RE = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?!\w)")
_QUOTE_RE = re.compile(
    r"\"([^\"]+)\"|(?<!\w)'([^']+)'(?!\w)|“([^”]+)”|‘([^’]+)’|「([^」]+)」|『([^』]+)』"
)
_CLAUSE_RE = re.compile(r"[,;\n]|[.?!。？！](?:\s|$)|\b(?:then|also)\b", re.IGNORECASE)
_SYMBOL_RE = re.compile(r"\s([-+*/×÷])\s")
_SYMBOL_WORDS = {
    "+": " add plus sum ",
    "-": " subtract minus difference ",
    "*": " multiply times product ",
    "×": " multiply times product ",
    "/": " divide quotient ",
    "÷": " divide quotient ",
}
_JOKE = {
    "setup": "Why did the cat sit on the computer?",
    "punchline": "To keep an eye on the mouse!",
}
_CAMEL_RE = re.compile(r"([a-z0-9])([A-Z])")
_GREETING_RE = re.compile(
    r"^(hi|hello|hey|hallo|hola|bonjour|greetings|good (morning|afternoon|evening)|你好|您好)"
    r"( there)?[\s!.,。！]*$",
    re.IGNORECASE,
)

GREETING_ANSWER = "Hello! How can I help you today?"


def count_tokens(text: str) -> int:
    """The emulator's token count: whitespace-separated words (deterministic, cheap)."""
    return len(text.split())


def message_text(content: Any) -> str:
    """The text of an OpenAI message `content` (string, parts list or null)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts: list[str] = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
        return " ".join(t for t in texts if t)
    if isinstance(content, dict) and isinstance(content.get("text"), str):
        return str(content["text"])
    return ""


def image_media_types(content: Any) -> list[str]:
    """Media types of the `image_url` parts of a message content ("unknown" when unsure)."""
    found: list[str] = []
    if not isinstance(content, list):
        return found
    for part in content:
        if not isinstance(part, dict) or part.get("type") != "image_url":
            continue
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        found.append(_media_type(url if isinstance(url, str) else ""))
    return found


def _media_type(url: str) -> str:
    if url.startswith("data:"):
        head = url[5:].split(",", 1)[0]
        return head.split(";", 1)[0] or "unknown"
    guessed, _ = mimetypes.guess_type(url.split("?", 1)[0])
    return guessed or "unknown"


def all_images(messages: list[Any]) -> list[str]:
    """Media types of every image part in the conversation."""
    found: list[str] = []
    for message in messages:
        if isinstance(message, dict):
            found.extend(image_media_types(message.get("content")))
    return found


@dataclass
class GeneratedCall:
    """A tool call ready for the wire."""

    id: str
    name: str
    arguments: str


@dataclass
class Generated:
    """What the model "said", before the server turns it into JSON or SSE."""

    content: str
    reasoning: str | None = None
    tool_calls: list[GeneratedCall] = field(default_factory=list)
    finish_reason: str = "stop"
    usage: dict[str, Any] | None = None
    chunk_size: int | None = None


def new_call_id() -> str:
    """An OpenAI-looking tool call id."""
    return "call_" + uuid.uuid4().hex[:24]


def dump_arguments(arguments: Any) -> str:
    """Arguments as the JSON string models send (non-ASCII kept, as Qwen does)."""
    return json.dumps(arguments, ensure_ascii=False)


# --------------------------------------------------------------------------- words and tools


def _symbol_words(match: re.Match[str]) -> str:
    return _SYMBOL_WORDS[match.group(1)]


def _split_name(name: str) -> list[str]:
    return _words(_CAMEL_RE.sub(r"\1 \2", name))


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD_RE.findall(text)]


def _content_words(text: str) -> list[str]:
    return [w for w in _words(text) if w not in _STOPWORDS and not w.isdigit()]


def _similar(a: str, b: str) -> bool:
    if a == b:
        return True
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) >= 3 and long_.startswith(short) and len(long_) - len(short) <= 3:
        return True
    common = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        common += 1
    return common >= 5


@dataclass
class _Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    name_words: list[str]
    desc_words: list[str]

    @classmethod
    def parse(cls, raw: Any) -> _Tool | None:
        if not isinstance(raw, dict):
            return None
        fn = raw.get("function") if isinstance(raw.get("function"), dict) else raw
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            return None
        params = fn.get("parameters")
        description = fn.get("description") if isinstance(fn.get("description"), str) else ""
        return cls(
            name=fn["name"],
            description=str(description),
            parameters=params if isinstance(params, dict) else {},
            name_words=[w for w in _split_name(fn["name"]) if w not in _STOPWORDS],
            desc_words=_content_words(str(description)),
        )

    def score(self, text: str) -> int:
        """How well `text` asks for this tool: word overlap, the name counting most."""
        total = 0
        if self.name.lower() in text.lower():
            total += 10
        for word in set(_content_words(_SYMBOL_RE.sub(_symbol_words, text))):
            if any(_similar(word, w) for w in self.name_words):
                total += 3
            elif any(_similar(word, w) for w in self.desc_words):
                total += 1
        return total

    def vocabulary(self) -> list[str]:
        props = self.parameters.get("properties")
        names = list(props) if isinstance(props, dict) else []
        extra = [w for n in names for w in _split_name(n)]
        return self.name_words + self.desc_words + extra


# --------------------------------------------------------------------------- arguments


class _Source:
    """Where argument values come from: numbers, quoted strings and a phrase of the text."""

    def __init__(self, text: str, tool_vocabulary: list[str]) -> None:
        self.joke = "joke" in text.lower()
        self.numbers: list[int | float] = []
        for match in _NUMBER_RE.finditer(text):
            raw = match.group(0)
            self.numbers.append(float(raw) if "." in raw else int(raw))
        self.quotes = [
            next(g for g in m.groups() if g is not None) for m in _QUOTE_RE.finditer(text)
        ]
        unquoted = _QUOTE_RE.sub(" ", text)
        kept: list[str] = []
        for word in _WORD_RE.findall(unquoted):
            low = word.lower()
            if low in _STOPWORDS or low.isdigit():
                continue
            if any(_similar(low, v) for v in tool_vocabulary):
                continue
            kept.append(word)
        self.phrase = " ".join(kept[:8]) or " ".join(_WORD_RE.findall(text)[:8]) or "example"

    def number(self) -> int | float | None:
        return self.numbers.pop(0) if self.numbers else None

    def string(self, name: str | None = None) -> str:
        if self.quotes:
            return self.quotes.pop(0)
        if self.joke and name in _JOKE:
            return _JOKE[name]
        return self.phrase


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    node: Any = root
    for part in ref[2:].split("/"):
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict):
        return {}
    merged = {k: v for k, v in schema.items() if k != "$ref"}
    return {**node, **merged}


def _is_null(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "null"


def _clamp(value: float, schema: dict[str, Any], integer: bool) -> float:
    step = 1 if integer else 0.5
    if isinstance(schema.get("minimum"), (int, float)):
        value = max(value, schema["minimum"])
    if isinstance(schema.get("exclusiveMinimum"), (int, float)):
        value = max(value, schema["exclusiveMinimum"] + step)
    if isinstance(schema.get("maximum"), (int, float)):
        value = min(value, schema["maximum"])
    if isinstance(schema.get("exclusiveMaximum"), (int, float)):
        value = min(value, schema["exclusiveMaximum"] - step)
    return value


def value_for_schema(
    schema: Any, root: dict[str, Any], source: _Source, depth: int = 0, name: str | None = None
) -> Any:
    """A value valid for `schema`, drawn from `source` where the schema leaves a choice."""
    if depth > 12 or not isinstance(schema, dict):
        return source.string(name)
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            usable = [o for o in options if not _is_null(o)]
            if not usable:
                return None
            return value_for_schema(usable[0], root, source, depth + 1, name)
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and all_of:
        merged: dict[str, Any] = {}
        for part in all_of:
            if isinstance(part, dict):
                merged.update(_resolve(part, root))
        merged.update({k: v for k, v in schema.items() if k != "allOf"})
        return value_for_schema(merged, root, source, depth + 1, name)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        if "properties" in schema:
            kind = "object"
        elif "items" in schema:
            kind = "array"
        else:
            kind = "string"
    if kind == "object":
        props = schema.get("properties")
        if not isinstance(props, dict):
            return {}
        return {
            key: value_for_schema(sub, root, source, depth + 1, key) for key, sub in props.items()
        }
    if kind == "array":
        items = schema.get("items", schema.get("prefixItems", {}))
        if isinstance(items, list):
            return [value_for_schema(i, root, source, depth + 1) for i in items]
        max_items = schema.get("maxItems")
        count = max(int(schema.get("minItems") or 0), 1)
        if isinstance(max_items, int):
            count = min(count, max_items)
        return [value_for_schema(items, root, source, depth + 1) for _ in range(count)]
    if kind in ("integer", "number"):
        raw = source.number()
        value: float = 1 if raw is None else raw
        value = _clamp(value, schema, kind == "integer")
        if kind == "integer":
            return int(value)
        return value
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return _string_for(schema, source, name)


def _string_for(schema: dict[str, Any], source: _Source, name: str | None) -> str:
    fmt = schema.get("format")
    if fmt == "date-time":
        return "2025-01-01T00:00:00+08:00"
    if fmt == "date":
        return "2025-01-01"
    if fmt == "email":
        return "user@example.com"
    if fmt in ("uri", "url"):
        return "https://example.com/"
    if fmt == "uuid":
        return "00000000-0000-4000-8000-000000000000"
    text = source.string(name)
    min_len = schema.get("minLength")
    max_len = schema.get("maxLength")
    if isinstance(min_len, int) and len(text) < min_len:
        text = text + "x" * (min_len - len(text))
    if isinstance(max_len, int) and len(text) > max_len:
        text = text[:max_len]
    return text


def arguments_for(tool: _Tool, text: str) -> dict[str, Any]:
    """Arguments for `tool` taken from `text`."""
    source = _Source(text, tool.vocabulary())
    params = tool.parameters or {"type": "object", "properties": {}}
    value = value_for_schema(params, params, source)
    return value if isinstance(value, dict) else {}


# --------------------------------------------------------------------------- answers


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return message_text(message.get("content")).strip()
    return ""


def _trailing_tool_results(messages: list[Any]) -> list[str]:
    results: list[str] = []
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") != "tool":
            break
        content = message.get("content")
        text = message_text(content).strip()
        if not text and image_media_types(content):
            text = "an image"
        results.append(text or "(empty)")
    results.reverse()
    return results


def text_answer(text: str, images: list[str]) -> str:
    """A short natural reply to `text` (never empty)."""
    parts: list[str] = []
    if images:
        kinds = ", ".join(images)
        parts.append(
            f"I see an image ({kinds})."
            if len(images) == 1
            else f"I see {len(images)} images ({kinds})."
        )
    low = text.lower()
    if not text:
        parts.append("" if images else GREETING_ANSWER)
    elif _GREETING_RE.match(text):
        parts.append(GREETING_ANSWER)
    elif "how are you" in low:
        parts.append("I'm doing well, thank you for asking. How can I help you today?")
    elif "joke" in low:
        parts.append("Why did the cat sit on the computer? To keep an eye on the mouse!")
    elif "haiku" in low:
        parts.append(
            "Soft rain on the roof,\nthe kettle hums a warm song,\nthe cat dreams of spring.\n\n"
            "Moonlight on the pond,\na frog breaks the silent glass,\nripples chase the stars."
        )
    elif text.rstrip().endswith(("?", "？")):
        parts.append(f"You asked: {text} Here is a short answer from the ModelScope emulator.")
    else:
        parts.append(f"You said: {text}")
    return " ".join(p for p in parts if p) or GREETING_ANSWER


def _tool_result_answer(results: list[str]) -> str:
    if len(results) == 1:
        result = results[0]
        if result.lower().startswith("error"):
            return f"The tool reported an error: {result}"
        return f"The result is {result}."
    return "The results are: " + "; ".join(results) + "."


def _reasoning_text(question: str, plan: str, budget: int | None) -> str | None:
    words = question.split()
    short = " ".join(words[:30]).rstrip(".!?。！？ ") + (" ..." if len(words) > 30 else "")
    text = f"The user wrote: {short or '(nothing)'}. {plan}"
    if budget is not None:
        kept = text.split()[: max(budget, 0)]
        return " ".join(kept) or None
    return text


def _json_keys(text: str) -> list[str]:
    keys: list[str] = []
    for match in _QUOTE_RE.finditer(text):
        quoted = next(g for g in match.groups() if g is not None)
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", quoted) and quoted not in keys:
            keys.append(quoted)
    return keys


def _schema_in_text(texts: list[str]) -> dict[str, Any] | None:
    decoder = json.JSONDecoder()
    for text in texts:
        start = text.find("{")
        tries = 0
        while start != -1 and tries < 50:
            tries += 1
            try:
                obj, _ = decoder.raw_decode(text, start)
            except ValueError:
                start = text.find("{", start + 1)
                continue
            if isinstance(obj, dict) and isinstance(obj.get("properties"), dict):
                return obj
            start = text.find("{", start + 1)
    return None


def json_object_answer(messages: list[Any]) -> dict[str, Any]:
    """JSON mode: keys from a schema pasted in the prompt, else from quoted words."""
    texts = [message_text(m.get("content")) for m in messages if isinstance(m, dict)]
    question = _last_user_text(messages)
    schema = _schema_in_text(list(reversed(texts)))
    if schema is not None:
        value = value_for_schema(schema, schema, _Source(question, []))
        if isinstance(value, dict):
            return value
    keys = _json_keys(question)
    if not keys:
        return {"answer": text_answer(question, [])}
    phrase = _Source(question, keys).phrase
    return {key: _JOKE.get(key, phrase) for key in keys}


def _forced_choice(tool_choice: Any, tools: list[_Tool]) -> tuple[bool, _Tool | None, bool]:
    """(force a call, the named tool, tools disabled)."""
    if tool_choice in (None, "auto"):
        return False, None, False
    if tool_choice == "none":
        return False, None, True
    if tool_choice in ("required", "any"):
        return True, None, False
    name: Any = None
    if isinstance(tool_choice, dict):
        fn = tool_choice.get("function")
        name = fn.get("name") if isinstance(fn, dict) else tool_choice.get("name")
    elif isinstance(tool_choice, str):
        name = tool_choice
    named = next((t for t in tools if t.name == name), None)
    return True, named, False


def _plan_calls(
    question: str, tools: list[_Tool], force: bool, named: _Tool | None, parallel: bool
) -> list[GeneratedCall]:
    candidates = [named] if named is not None else tools
    if not candidates:
        return []
    clause_hits: list[tuple[str, _Tool]] = []
    if parallel and named is None:
        for clause in _CLAUSE_RE.split(question):
            clause = re.sub(r"^\s*(and|&)\s+", "", clause or "", flags=re.IGNORECASE).strip()
            if not clause:
                continue
            best = max(candidates, key=lambda t: t.score(clause))
            if best.score(clause) > 0:
                clause_hits.append((clause, best))
    if len(clause_hits) >= 2:
        return [
            GeneratedCall(new_call_id(), tool.name, dump_arguments(arguments_for(tool, clause)))
            for clause, tool in clause_hits
        ]
    best = max(candidates, key=lambda t: t.score(question))
    if not force and best.score(question) <= 0:
        return []
    return [GeneratedCall(new_call_id(), best.name, dump_arguments(arguments_for(best, question)))]


def prompt_tokens(body: dict[str, Any]) -> int:
    """Prompt size in emulator tokens: words of every message, plus one per message."""
    messages = body.get("messages") or []
    total = 0
    for message in messages:
        if isinstance(message, dict):
            total += 1 + count_tokens(message_text(message.get("content")))
    tools = body.get("tools")
    if tools:
        total += count_tokens(json.dumps(tools))
    return max(total, 1)


def apply_stop_and_limit(content: str, body: dict[str, Any]) -> tuple[str, str | None]:
    """Cut `content` before the first stop string and to `max_tokens` words.

    Returns the content and the finish reason it forces ("length"), if any.
    """
    stop = body.get("stop")
    stops = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else []
    cut = len(content)
    for s in stops:
        if isinstance(s, str) and s:
            at = content.find(s)
            if at != -1:
                cut = min(cut, at)
    content = content[:cut]
    limit = body.get("max_tokens", body.get("max_completion_tokens"))
    if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0:
        pieces = re.findall(r"\S+\s*", content)
        if len(pieces) > limit:
            return "".join(pieces[:limit]).rstrip(), "length"
    return content, None


def default_reply(body: dict[str, Any], model: ModelInfo, reasons: bool) -> Generated:
    """The default responder: tools, tool results, JSON mode or a short text answer."""
    raw_messages = body.get("messages")
    messages: list[Any] = raw_messages if isinstance(raw_messages, list) else []
    tools = [t for t in (_Tool.parse(raw) for raw in body.get("tools") or []) if t is not None]
    question = _last_user_text(messages)
    budget = body.get("thinking_budget")
    budget = budget if isinstance(budget, int) and not isinstance(budget, bool) else None
    last_role = next(
        (
            m.get("role")
            for m in reversed(messages)
            if isinstance(m, dict) and m.get("role") not in ("system", "developer")
        ),
        None,
    )

    calls: list[GeneratedCall] = []
    force, named, disabled = _forced_choice(body.get("tool_choice"), tools)
    if tools and not disabled and last_role == "user":
        parallel = body.get("parallel_tool_calls") is not False
        calls = _plan_calls(question, tools, force, named, parallel)
        if not parallel:
            calls = calls[:1]
    if calls:
        names = ", ".join(c.name for c in calls)
        reasoning = (
            _reasoning_text(question, f"I should call {names}.", budget) if reasons else None
        )
        return Generated(
            content="", reasoning=reasoning, tool_calls=calls, finish_reason="tool_calls"
        )

    results = _trailing_tool_results(messages) if last_role == "tool" else []
    response_format = body.get("response_format")
    rf_type = response_format.get("type") if isinstance(response_format, dict) else None
    if results:
        content = _tool_result_answer(results)
    elif rf_type == "json_object":
        content = json.dumps(json_object_answer(messages), ensure_ascii=False)
    elif rf_type == "json_schema" and isinstance(response_format, dict):
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        schema = schema if isinstance(schema, dict) else {"type": "object", "properties": {}}
        value = value_for_schema(schema, schema, _Source(question, []))
        content = json.dumps(value, ensure_ascii=False)
    else:
        content = text_answer(question, all_images(messages))
    reasoning = (
        _reasoning_text(question, "I will answer briefly and clearly.", budget) if reasons else None
    )
    content, forced_finish = apply_stop_and_limit(content, body)
    return Generated(content=content, reasoning=reasoning, finish_reason=forced_finish or "stop")


def split_stream_pieces(text: str, chunk_size: int | None) -> Iterator[str]:
    """Delta pieces of `text`: `chunk_size` characters each, or one word (with its space)."""
    if not text:
        return
    if chunk_size and chunk_size > 0:
        for i in range(0, len(text), chunk_size):
            yield text[i : i + chunk_size]
        return
    yield from re.findall(r"\s*\S+\s*", text) or [text]
