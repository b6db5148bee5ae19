"""Parsing an OpenAI chat-completions request, strictly where the guard needs it and loosely elsewhere.

The guard must understand ``model``, ``messages`` and ``stream``; everything
else (temperature, tools, response_format, vendor extensions, ...) is the
client's business with its model, so it is kept verbatim and passed on.
Messages are validated for the shape the guard reads (roles, content parts)
but keep any extra keys (``name``, ``tool_calls``, ``tool_call_id``, ...).
"""

from __future__ import annotations

import json
import math
import sys
from typing import Annotated, Any, Iterator, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, StrictBool, StrictFloat, StrictInt, StrictStr, Tag, TypeAdapter, ValidationError

from proxy.errors import bad_request


class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["text"]
    text: str


class ImageURL(BaseModel):
    model_config = ConfigDict(extra="allow")
    url: str = Field(min_length=1)
    detail: str | None = None


class ImagePart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["image_url"]
    image_url: ImageURL


#: The content parts of OpenAI's API besides text and images. The guard does not read them: a policy refuses
#: or passes them (``limits.unread_parts``). Any other type (a vendor's ``video_url``, say) is refused: it
#: could carry what an image carries, and the guard would never see it.
UNREAD_PART_TYPES = ("input_audio", "file")
OTHER_PART_TYPES = (*UNREAD_PART_TYPES, "refusal")  # a refusal part is an assistant's own text

#: OpenAI's own ceiling on ``n``: a request asking for more is a 400, so a refusal is never larger than an answer could be.
MAX_CHOICES = 128

#: Roles whose messages OpenAI's API refuses without content; only an assistant's (calling tools) may lack it.
CONTENT_REQUIRED = frozenset({"system", "developer", "user", "tool"})


def _known_part_type(value: str) -> str:
    if value not in OTHER_PART_TYPES:
        raise ValueError(f"unknown content part type {value!r}; this proxy accepts text, image_url, {', '.join(OTHER_PART_TYPES)}")
    return value


class OtherPart(BaseModel):
    """Parts the guard does not read (input_audio, file, refusal): passed on as they are, when the policy allows."""

    model_config = ConfigDict(extra="allow")
    type: Annotated[str, AfterValidator(_known_part_type), Field(json_schema_extra={"enum": list(OTHER_PART_TYPES)})]


def _part_kind(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in ("text", "image_url") else "other"


ContentPart = Annotated[
    Union[Annotated[TextPart, Tag("text")], Annotated[ImagePart, Tag("image_url")], Annotated[OtherPart, Tag("other")]],
    Discriminator(_part_kind),
]


#: ``_content_where_required`` and ``_refusals_only_from_assistants`` in JSON Schema, so the OpenAPI
#: description (and schemathesis) holds the same rules.
_MESSAGE_RULES = {
    "allOf": [
        {
            "if": {"properties": {"role": {"enum": sorted(CONTENT_REQUIRED)}}},
            "then": {"required": ["content"], "properties": {"content": {"not": {"type": "null"}}}},
        },
        {
            "if": {"properties": {"role": {"not": {"const": "assistant"}}}},
            "then": {"properties": {"content": {"anyOf": [
                {"not": {"type": "array"}},
                {"type": "array", "items": {"not": {"required": ["type"], "properties": {"type": {"const": "refusal"}}}}},
            ]}}},
        },
    ]
}


class Message(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra=_MESSAGE_RULES)

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        """All the text of this message, parts joined by newlines."""
        if isinstance(self.content, str):
            return self.content
        if not self.content:
            return ""
        return "\n".join(p.text for p in self.content if isinstance(p, TextPart))

    def image_urls(self) -> list[str]:
        if not isinstance(self.content, list):
            return []
        return [p.image_url.url for p in self.content if isinstance(p, ImagePart)]


class ChatRequest(BaseModel):
    """A chat-completions request. Unknown top-level fields are kept in ``params()``."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    messages: list[Message] = Field(min_length=1)
    stream: StrictBool | None = None

    def params(self) -> dict[str, Any]:
        """Every parameter besides model, messages and stream, exactly as the client sent it."""
        return dict(self.model_extra or {})

    def messages_as_dicts(self) -> list[dict[str, Any]]:
        return [m.model_dump(exclude_unset=True) for m in self.messages]


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: StrictBool | None = None


class DocumentedParams(BaseModel):
    """The types of OpenAI's documented parameters, checked but not converted (``params()`` stays verbatim).

    A wrong type here is the client's mistake, and it gets the client's 400
    with the parameter's name. Unchecked, ``tools: 5`` reached litellm, which
    failed inside its provider code, and the client got a 502 for it.
    Undocumented and vendor parameters pass unchecked.
    """

    model_config = ConfigDict(extra="allow")

    tools: list[dict[str, Any]] | None = None
    tool_choice: StrictStr | dict[str, Any] | None = None
    parallel_tool_calls: StrictBool | None = None
    functions: list[dict[str, Any]] | None = None
    function_call: StrictStr | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    stream_options: StreamOptions | None = None
    stop: StrictStr | list[StrictStr] | None = None
    n: Annotated[StrictInt, Field(ge=1, le=MAX_CHOICES)] | None = None  # OpenAI's range: a 0 reached the model, and a block made one choice
    max_tokens: Annotated[StrictInt, Field(ge=1)] | None = None  # OpenAI refuses 0 and below; the simulator answered nothing
    max_completion_tokens: Annotated[StrictInt, Field(ge=1)] | None = None
    seed: StrictInt | None = None
    # OpenAI's ranges: outside them its API answers 400, and an upstream that clamps would hide the mistake
    temperature: Annotated[StrictFloat, Field(ge=0, le=2)] | None = None
    top_p: Annotated[StrictFloat, Field(ge=0, le=1)] | None = None
    presence_penalty: Annotated[StrictFloat, Field(ge=-2, le=2)] | None = None
    frequency_penalty: Annotated[StrictFloat, Field(ge=-2, le=2)] | None = None
    logit_bias: dict[str, Annotated[StrictFloat, Field(ge=-100, le=100)]] | None = None
    logprobs: StrictBool | None = None
    top_logprobs: Annotated[StrictInt, Field(ge=0, le=20)] | None = None
    user: StrictStr | None = None
    metadata: dict[str, Any] | None = None


_adapter = TypeAdapter(ChatRequest)
_params = TypeAdapter(DocumentedParams)


def _param_path(loc: tuple) -> str:
    """``('messages', 0, 'content', 'list[...]', 1, 'text', 'text')`` -> ``messages[0].content[1].text``.

    Pydantic puts union branch labels (``str``, ``list[...]``) and discriminator
    tags into the location; OpenAI names params without them.
    """
    out, skip_tag, in_union = "", False, False
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            skip_tag, in_union = in_union, False
        elif part == "str" or "[" in part:
            in_union = True
        elif skip_tag:
            skip_tag = False
        else:
            out += f".{part}" if out else part
    return out


#: Deeper than any chat request (a tool's JSON schema nests a few dozen levels at most). Python's parser
#: recurses once per level and, at about a thousand, raised RecursionError: the client got a 500 to retry.
MAX_JSON_DEPTH = 128


def _depth(value: Any) -> int:
    """How deeply ``value`` nests lists and objects, walked without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def _too_deep() -> Exception:
    return bad_request(f"Request body nests JSON deeper than {MAX_JSON_DEPTH} levels.", code="invalid_json")


def _not_json(constant: str) -> Any:
    """Python's parser reads NaN and Infinity; JSON has no such numbers, and a strict upstream refuses the body."""
    raise ValueError(f"{constant} is not a JSON number")


def _json_int(digits: str) -> int:
    """An integer as JSON writes it; past Python's digit limit a 400 in the API's words, not Python's ValueError,
    whose message ends in advice for Python programmers (``sys.set_int_max_str_digits()``)."""
    try:
        return int(digits)
    except ValueError:
        raise bad_request(f"Request body has an integer of more than {sys.get_int_max_str_digits():,} digits, more than any parameter takes.", code="invalid_json") from None


def _json_float(text: str) -> float:
    """A number with a fraction or exponent; one past float's range (``1e999``) read as infinity and went upstream
    as ``Infinity``, which is not JSON, as ``_not_json``'s constants did."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text[:40]}{'...' if len(text) > 40 else ''} is out of range for a JSON number")
    return value


def _lone_surrogate(value: Any) -> bool:
    """Whether a string in ``value`` holds half of a UTF-16 pair (``"\\ud800"`` alone): text no UTF-8 can carry."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(node, dict):
            stack.extend(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def decode_body(body: bytes) -> Any:
    """Bytes from the wire to JSON, or a 400 ``invalid_json``.

    Besides malformed JSON: NaN and Infinity, which Python reads and JSON
    does not (they went upstream as they came), and a number past float's
    range (``1e999``), which Python reads as infinity; an integer of more than
    4,300 digits, which Python refuses to convert (a 500, until
    ``_json_int`` caught its ValueError); and an escaped lone surrogate, valid JSON
    whose text is not valid Unicode: the guard failed on it, so the default
    policy refused it as a guard error, and a fail-open policy passed it to a
    transport that could not encode it (a 502).
    """
    try:
        value = json.loads(body, parse_constant=_not_json, parse_int=_json_int, parse_float=_json_float)
    except RecursionError:
        raise _too_deep() from None
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError among them
        raise bad_request(f"Request body is not valid JSON: {err}", code="invalid_json") from None
    if (b"\\ud" in body or b"\\uD" in body) and _lone_surrogate(value):  # only an escape can make one
        raise bad_request("Request body is not valid JSON text: it escapes half of a UTF-16 surrogate pair (\\ud800 to \\udfff) alone.", code="invalid_json")
    return value


def parse_chat_request(raw: Any) -> ChatRequest:
    """A decoded body (``decode_body``) to a validated request, or a 400 that names the bad parameter."""
    if _depth(raw) > MAX_JSON_DEPTH:
        raise _too_deep()
    if not isinstance(raw, dict):
        raise bad_request("Request body must be a JSON object.", code="invalid_json")
    try:
        request = _adapter.validate_python(raw)
        _params.validate_python(request.params())
    except ValidationError as err:
        first = max(err.errors(), key=lambda e: len(e["loc"]))  # the most specific complaint
        param = _param_path(first["loc"])
        message = first["msg"].removeprefix("Value error, ")  # a validator's own words need no pydantic label
        raise bad_request(f"Invalid request: {param or 'body'}: {message}", code="invalid_request", param=param or None) from None
    _content_where_required(request)
    _images_only_from_users(request)
    _refusals_only_from_assistants(request)
    return request


def _content_where_required(request: ChatRequest) -> None:
    """OpenAI's API refuses such a message; refused here, the error names it, where an upstream's would not."""
    for i, message in enumerate(request.messages):
        if message.content is None and message.role in CONTENT_REQUIRED:
            raise bad_request(f"Invalid request: messages[{i}].content: a message with role '{message.role}' needs content", code="invalid_request", param=f"messages[{i}].content")


def _images_only_from_users(request: ChatRequest) -> None:
    """An image in a system, assistant or tool message is refused, as OpenAI's API refuses it.

    The guard reads the images of user messages; one placed in any other
    message would reach a model whose chat template shows it (many served
    by vLLM do) without ever being read.
    """
    for i, j, role, part in _parts(request):
        if role != "user" and isinstance(part, ImagePart):
            raise bad_request(
                f"Image URLs are only allowed in messages with role 'user'; messages[{i}] has role '{role}'.",
                code="invalid_image",
                param=f"messages[{i}].content[{j}]",
            )


def _refusals_only_from_assistants(request: ChatRequest) -> None:
    """A ``refusal`` part is an assistant's own words, and OpenAI's API refuses it anywhere else.

    The guard reads a user's text parts; a user's refusal part was passed on
    unread, harmful words and all, to any model that reads it as text.
    """
    for i, j, role, part in _parts(request):
        if role != "assistant" and isinstance(part, OtherPart) and part.type == "refusal":
            raise bad_request(
                f"Invalid request: messages[{i}].content[{j}]: a refusal part is allowed only in messages with role 'assistant'; messages[{i}] has role '{role}'.",
                code="invalid_request",
                param=f"messages[{i}].content[{j}]",
            )


def _parts(request: ChatRequest) -> Iterator[tuple[int, int, str, ContentPart]]:
    """Every content part of every message that has a list of them: (message index, part index, role, part)."""
    for i, message in enumerate(request.messages):
        if isinstance(message.content, list):
            for j, part in enumerate(message.content):
                yield i, j, message.role, part
