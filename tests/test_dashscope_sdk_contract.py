"""The one dashscope SDK hook DashScopeEmbedder relies on.

DashScopeEmbedder overrides the SDK's input preprocessing (which would upload any value
naming a local file, text included, to an endpoint ignoring ``base_address``). If a new
SDK renames that hook, the override would silently stop applying: fail loudly instead.
"""

from __future__ import annotations

import inspect

import dashscope

from omniembed.providers import dashscope as ds


def test_the_sdk_still_has_the_preprocessing_hook_we_override() -> None:
    for sdk_class, ours in (
        (dashscope.MultiModalEmbedding, ds._MultiModalEmbedding),
        (dashscope.AioMultiModalEmbedding, ds._AioMultiModalEmbedding),
    ):
        hook = getattr(sdk_class, "_preprocess_message_inputs", None)
        assert hook is not None, f"{sdk_class.__name__} lost _preprocess_message_inputs"
        assert list(inspect.signature(hook).parameters) == ["model", "input_data", "api_key"]
        assert "_preprocess_message_inputs" in vars(ours)
