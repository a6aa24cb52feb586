"""Tool choice and structured output for `ChatModelScope`: how LangChain's three methods
(``function_calling``, ``json_mode``, ``json_schema``) become a bound model and a parser.

Written against any chat model with ``bind`` and ``bind_tools``, so the public class keeps only
its signatures and docstrings.
"""

from __future__ import annotations

from collections.abc import Mapping
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Final, Literal

from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_openai_function, convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel, LanguageModelInput
    from langchain_core.messages import AIMessage

__all__ = ["StructuredMethod", "structured_output", "tool_choice"]

StructuredMethod = Literal["function_calling", "json_mode", "json_schema"]
_TOOL_CHOICE_WORDS: Final = frozenset({"auto", "none", "required"})


def tool_choice(choice: dict[str, Any] | str | bool, tools: list[dict[str, Any]]) -> Any:
    """LangChain's spellings of a tool choice as the wire's (``"any"``/True: ``"required"``)."""
    names = [t["function"]["name"] for t in tools if isinstance(t.get("function"), dict)]
    if choice is True or choice == "any":
        return "required"
    if isinstance(choice, str):
        if choice in _TOOL_CHOICE_WORDS:
            return choice
        if choice in names:
            return {"type": "function", "function": {"name": choice}}
        raise ValueError(
            f"tool_choice={choice!r} is neither 'auto', 'none', 'any', 'required' nor the name "
            f"of a bound tool ({', '.join(names) or 'no tools bound'})"
        )
    if isinstance(choice, dict):
        return choice
    raise TypeError(f"tool_choice must be a str, bool or dict, got {type(choice).__name__}")


def structured_output(
    model: BaseChatModel,
    schema: dict[str, Any] | type | None,
    method: StructuredMethod,
    include_raw: bool,
    strict: bool | None,
    kwargs: Mapping[str, Any],
) -> Runnable[LanguageModelInput, dict[str, Any] | Any]:
    """`with_structured_output`'s runnable: the bound model, then its parser."""
    if method not in ("function_calling", "json_mode", "json_schema"):
        raise ValueError(
            f"method must be 'function_calling', 'json_mode' or 'json_schema', got {method!r}"
        )
    if schema is None and method != "json_mode":
        raise ValueError(f"method={method!r} needs a schema; only json_mode works without")
    # Imported here: the parsers (and the tools module they pull in) cost ~8 ms at import
    # time, for a method most programs never call (bench/findings.md, import benchmark).
    from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
    from langchain_core.output_parsers.openai_tools import (
        JsonOutputKeyToolsParser,
        PydanticToolsParser,
    )

    is_pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
    ls_format: dict[str, Any] = {"kwargs": {"method": method}, "schema": schema}
    llm: Runnable[LanguageModelInput, AIMessage]
    parser: Runnable[Any, Any]
    if method == "function_calling":
        ls_format["kwargs"]["strict"] = strict
        tool_name = convert_to_openai_tool(schema)["function"]["name"]  # type: ignore[arg-type]
        llm = model.bind_tools(
            [schema],  # type: ignore[list-item]
            tool_choice=tool_name,
            parallel_tool_calls=False,
            strict=strict,
            ls_structured_output_format=ls_format,
            **kwargs,
        )
        if is_pydantic:
            parser = PydanticToolsParser(tools=[schema], first_tool_only=True)
        else:
            parser = JsonOutputKeyToolsParser(key_name=tool_name, first_tool_only=True)
    else:
        if method == "json_mode":
            response_format: dict[str, Any] = {"type": "json_object"}
        else:
            ls_format["kwargs"]["strict"] = strict
            response_format = _json_schema_format(schema, strict)
        llm = model.bind(
            response_format=response_format, ls_structured_output_format=ls_format, **kwargs
        )
        parser = PydanticOutputParser(pydantic_object=schema) if is_pydantic else JsonOutputParser()
    if not include_raw:
        return llm | parser
    parse = RunnablePassthrough.assign(
        parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
    )
    keep_raw = RunnablePassthrough.assign(parsed=lambda _: None)
    return RunnableMap(raw=llm) | parse.with_fallbacks([keep_raw], exception_key="parsing_error")


def _json_schema_format(
    schema: dict[str, Any] | type | None, strict: bool | None
) -> dict[str, Any]:
    if isinstance(schema, dict) and schema.get("type") == "json_schema":
        return schema
    function = convert_to_openai_function(schema)  # type: ignore[arg-type]
    spec: dict[str, Any] = {"name": function["name"], "schema": function["parameters"]}
    if function.get("description"):
        spec["description"] = function["description"]
    if strict is not None:
        spec["strict"] = strict
    return {"type": "json_schema", "json_schema": spec}
