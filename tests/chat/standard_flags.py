"""The capability flags of ChatModelScope in langchain-tests' standard suites.

Written once here for the three suites that run them: the unit suite and the emulator-backed
integration suite in ``tests/chat``, and the cassette-replayed one in ``tests/vcr``. Mix a class
in *before* the langchain-tests base, so that its properties win; only properties live here,
never ``test_*`` methods (``test_no_overrides_DO_NOT_OVERRIDE`` forbids overriding those).
"""

from __future__ import annotations

from langchain_modelscope.chat_models import ChatModelScope

#: Ids seen served in late 2026 (modelscope-api.md §5). Ids churn: when one is retired, pick
#: another of §5 and re-record the cassettes (tests/vcr); nothing else depends on these.
#: A unified (vision) model, so the image tests run too; it calls tools like the text models do.
#: Not the Qwen3-VL family: retired on 2026-09-15.
VISION_MODEL = "Qwen/Qwen3.5-35B-A3B"
#: A Qwen3 hybrid model: every invoke streams under the hood, and answers carry reasoning.
THINKING_MODEL = "Qwen/Qwen3-32B"
#: What the model-override tests switch to.
OVERRIDE_MODEL = "Qwen/Qwen3-Coder-480B-A35B-Instruct"


class ChatModelScopeFlags:
    """The flags every standard suite of ChatModelScope declares."""

    @property
    def chat_model_class(self) -> type[ChatModelScope]:
        return ChatModelScope

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        return True

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def supports_model_override(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return OVERRIDE_MODEL


class ChatModelScopeIntegrationFlags(ChatModelScopeFlags):
    """The integration suites (emulator and VCR) also state the tool flags outright."""

    @property
    def has_tool_calling(self) -> bool:
        return True

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def has_structured_output(self) -> bool:
        return True


class TextModelFlags:
    """For the thinking variants: a text model, so the service rejects image parts."""

    @property
    def supports_image_inputs(self) -> bool:
        return False
