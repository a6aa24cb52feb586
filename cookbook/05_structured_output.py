"""05 - Structured output with a pydantic schema: each method, and what to do without json_schema.

Run:  python cookbook/05_structured_output.py
      (ModelScope when MODELSCOPE_API_KEY is set, else the local emulator; 3-4 calls)

`with_structured_output(Schema, method=...)` has three methods:

- "function_calling" (the default): the schema becomes a tool the model is asked to call.
- "json_mode": response_format {"type": "json_object"}, which ModelScope supports; the prompt
  must say which keys to write (here: the JSON schema itself).
- "json_schema": response_format {"type": "json_schema", ...}. ModelScope has answered it with
  HTTP 200 and `"choices": null`. ChatModelScope raises EmptyResponseError for that (never a
  TypeError), so you can catch it and switch method, as below.
"""

from __future__ import annotations

import json
from typing import Any

import _runtime
from pydantic import BaseModel, Field

from langchain_modelscope.chat_models import ChatModelScope
from langchain_modelscope.errors import EmptyResponseError


class Film(BaseModel):
    """A film mentioned in the text."""

    title: str = Field(description="The film's title")
    year: int = Field(description="Year of first release")
    director: str = Field(description="The director's full name")


TEXT = 'Extract the film: "Spirited Away", released in 2001, directed by "Hayao Miyazaki".'

# For JSON mode, put the schema in the prompt: the model sees no tool definition.
JSON_MODE_SYSTEM = (
    "Reply with one JSON object, no prose, matching this JSON schema:\n"
    + json.dumps(Film.model_json_schema())
)


def main() -> None:
    rt = _runtime.setup()
    llm = ChatModelScope(model=_runtime.CHAT_MODEL, temperature=0, **rt.connection)
    # with_structured_output(Film) returns Film instances (typed as Any: it depends on schema).
    results: dict[str, Any] = {}

    _runtime.section('method="function_calling" (default)')
    # A forced call of a tool named "Film"; the answer is parsed into a Film instance.
    film = llm.with_structured_output(Film).invoke(TEXT)
    print(f"  {film!r}")
    results["function_calling"] = film

    _runtime.section('method="json_mode"')
    json_llm = llm.with_structured_output(Film, method="json_mode")
    film = json_llm.invoke([("system", JSON_MODE_SYSTEM), ("human", TEXT)])
    print(f"  {film!r}")
    results["json_mode"] = film

    _runtime.section('method="json_schema", and what to do when the model lacks it')
    try:
        film = llm.with_structured_output(Film, method="json_schema").invoke(TEXT)
        print(f"  json_schema worked on {llm.model}: {film!r}")
        results["json_schema"] = film
        schema_outcome = "json_schema worked"
    except EmptyResponseError as error:
        # The message names the cause and the two methods that work.
        print(f"  EmptyResponseError: {error}")
        print("  -> switching this model to function_calling (or use json_mode)")
        film = llm.with_structured_output(Film, method="function_calling").invoke(TEXT)
        print(f"  {film!r}")
        results["json_schema->function_calling"] = film
        schema_outcome = "json_schema raised EmptyResponseError, switched to function_calling"
    # Tip: knowing this, just don't ask for json_schema on ModelScope. The package's model
    # profile says so too (structured_output: False), which is why create_agent's
    # response_format uses a tool call rather than json_schema.

    summary = "; ".join(
        f"{method}: {f.title} ({f.year}, {f.director})" for method, f in results.items()
    )
    _runtime.final(f"{summary}; {schema_outcome}")


if __name__ == "__main__":
    main()
