"""Packaging promises: a light import, a typed package, optional extras stay optional."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import omniembed


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return set(out.split())


HEAVY = ("google.genai", "aiohttp", "PIL", "av", "pypdfium2", "numpy", "llama_index", "langchain")


def test_import_is_light() -> None:
    loaded = _modules_after("import omniembed")
    pulled_in = sorted(m for m in loaded if m.startswith(HEAVY))
    assert pulled_in == []


def test_provider_loads_on_first_use() -> None:
    loaded = _modules_after("from omniembed import GeminiEmbedder")
    assert "google.genai" in loaded
    assert not any(m.startswith(("llama_index", "langchain")) for m in loaded)


def test_typed_package() -> None:
    assert (Path(omniembed.__file__).parent / "py.typed").is_file()


def test_public_names_resolve() -> None:
    for name in omniembed.__all__:
        assert getattr(omniembed, name) is not None, name


@pytest.mark.parametrize(
    ("hidden", "statement", "extra"),
    [
        ("dashscope", "from omniembed import DashScopeEmbedder", "dashscope"),
        ("aiohttp", "from omniembed.emulator import Emulator", "emulator"),
    ],
)
def test_a_missing_extra_is_named(hidden: str, statement: str, extra: str) -> None:
    code = (
        f"import sys\nsys.modules[{hidden!r}] = None\n"
        f"try:\n    {statement}\nexcept ImportError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.startswith("MissingDependencyError")
    assert f"pip install 'omniembed[{extra}]'" in out


def test_the_media_layer_is_one_package() -> None:
    """The media modules live in `omniembed.media`; its exports are the old module's."""
    from omniembed import media
    from omniembed.media.item import Media
    from omniembed.media.mime import Modality

    assert media.Media is Media is omniembed.Media
    assert media.Modality is Modality is omniembed.Modality
    root = Path(omniembed.__file__).parent
    for old in ("media", "mime", "probe", "imaging", "video_segments"):
        assert not (root / f"{old}.py").exists(), old


@pytest.mark.parametrize(
    ("old", "new", "name"),
    [
        ("omniembed.pdf", "omniembed.media.pdf", "iter_pages"),
        ("omniembed.pdf", "omniembed.media.pdf", "PdfPage"),
        ("omniembed.video", "omniembed.media.video", "cut_window"),
        ("omniembed.video", "omniembed.media.video", "windows"),
        ("omniembed.types", "omniembed.media", "EmbedInput"),
    ],
)
def test_a_moved_name_still_resolves_at_its_old_path_and_warns(
    old: str, new: str, name: str
) -> None:
    module = importlib.import_module(old)
    with pytest.warns(DeprecationWarning, match=rf"importing {name} from {old} is deprecated; "):
        value = getattr(module, name)
    assert value is getattr(importlib.import_module(new), name)
    with pytest.raises(AttributeError):
        getattr(module, "no_such_name")  # noqa: B009


def test_the_documented_old_import_warns_at_the_importing_line() -> None:
    with pytest.warns(DeprecationWarning, match="import it from omniembed.media.pdf") as caught:
        from omniembed.pdf import iter_pages
    from omniembed.media.pdf import iter_pages as moved

    assert iter_pages is moved
    assert [w.filename for w in caught] == [__file__]
