"""08 - An agent that draws: `ModelScopeImageTool` in `create_agent` on a ModelScope chat model.

Run:  python cookbook/08_image_agent.py
      (ModelScope when MODELSCOPE_API_KEY is set, else the local emulator; 2 chat calls and one
      image task, which costs points on the real service)

The tool submits an image task (X-ModelScope-Async-Mode), polls it until done and answers the
image URL, as text for the model and as an artifact (task id, seed, timings) for your code.
"""

from __future__ import annotations

import os

import _runtime
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, ToolMessage

from langchain_modelscope import ChatModelScope, ModelScopeImageGenerator, ModelScopeImageTool

# Image model ids churn like chat ones (modelscope-api.md §5): set COOKBOOK_IMAGE_MODEL to change.
IMAGE_MODEL = os.environ.get("COOKBOOK_IMAGE_MODEL", "Tongyi-MAI/Z-Image-Turbo")
# Quoting the description helps small models pass it on verbatim; the emulator relies on it.
REQUEST = 'Draw "a red panda reading a book under a maple tree" for me.'


def main() -> None:
    rt = _runtime.setup()
    # The official sample polls every 5 s; the emulator finishes at once, so poll faster there.
    interval = 0.05 if rt.offline else 2.0
    generator = ModelScopeImageGenerator(
        model=IMAGE_MODEL,
        poll_interval=interval,
        poll_interval_max=max(interval, 5.0),
        **rt.connection,
    )
    tool = ModelScopeImageTool(generator=generator)
    model = ChatModelScope(model=_runtime.CHAT_MODEL, temperature=0, **rt.connection)
    agent = create_agent(model, tools=[tool], system_prompt="Use generate_image to draw.")
    _runtime.section(f"agent on {model.model} with {tool.name} ({IMAGE_MODEL})")
    print(f"request: {REQUEST}")
    urls: list[str] = []
    answer = ""
    for update in agent.stream({"messages": [("user", REQUEST)]}, stream_mode="updates"):
        for node_output in update.values():
            for message in (node_output or {}).get("messages", []):
                if isinstance(message, AIMessage) and message.tool_calls:
                    for call in message.tool_calls:
                        print(f"  model -> {call['name']}({call['args'].get('prompt')!r})")
                elif isinstance(message, ToolMessage):
                    result = message.artifact
                    if result is not None:
                        urls.extend(result.urls)
                        print(
                            f"  tool: task {result.task_id}, seed {result.seed}, "
                            f"{result.polls} polls, {result.elapsed:.2f}s"
                        )
                    print(f"  tool -> {_runtime.one_line(message.text, 160)}")
                elif isinstance(message, AIMessage):
                    answer = message.text
                    print(f"  model: {_runtime.one_line(answer)}")
    drawn = "drew " + ", ".join(urls) if urls else "drew nothing"
    _runtime.final(f"{drawn} | answer: {answer}")


if __name__ == "__main__":
    main()
