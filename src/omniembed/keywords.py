"""Keyword arguments as users spell them: one canonical name per concept, the names each
framework's users expect as aliases, and an unknown name answered with the nearest one.

Silently ignoring a misspelt argument is the worst answer (``dimension=256`` quietly giving
3,072-dimensional vectors), and Python's own ``TypeError`` names neither the class a user
built nor what they meant. Every public class checks its keywords here:
`resolve_keywords` for the pydantic-based adapters, `strict_init` for the provider
classes' plain ``__init__``.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, TypeVar

from .errors import InvalidParameterError, UnknownParameterError

#: The vector size: ``dimensions`` everywhere (OpenAI's name in both frameworks); the
#: services' own names are accepted where a class took them before.
DIMENSION_ALIASES = ("output_dimensionality", "dimension")

_Init = TypeVar("_Init", bound=Callable[..., None])


def nearest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate ``name`` was most likely meant as, or None."""
    pool = sorted(set(candidates))
    folded = {c.lower().replace("_", ""): c for c in pool}
    key = name.lower().replace("_", "").replace("-", "")
    if key in folded:
        return folded[key]
    found = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    if found:
        return found[0]
    # A fragment of a long name ("dim" for "dimensions", "concurrency").
    inside = [c for c in pool if len(key) >= 3 and key in c.replace("_", "")]
    return inside[0] if len(inside) == 1 else None


def unknown_keyword(
    owner: str, name: str, accepted: Iterable[str], aliases: Iterable[str] = ()
) -> UnknownParameterError:
    """The error for ``owner(name=...)`` when no parameter is called ``name`` (canonical
    names are suggested before aliases)."""
    pool = sorted({a for a in accepted if not a.startswith("_")})
    guess = nearest(name, pool) or nearest(name, aliases)
    hint = f"did you mean {guess!r}?" if guess else f"accepted: {', '.join(pool)}"
    return UnknownParameterError(f"{owner}() got an unexpected keyword argument {name!r}; {hint}")


def resolve_keywords(
    owner: str,
    given: Mapping[str, Any],
    accepted: Collection[str],
    aliases: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``given`` with each alias renamed to its canonical name; an unknown name raises
    `UnknownParameterError`, and a concept given under two names `InvalidParameterError`."""
    aliases = aliases or {}
    out: dict[str, Any] = {}
    said: dict[str, str] = {}
    for name, value in given.items():
        target = aliases.get(name, name)
        if target not in accepted:
            raise unknown_keyword(owner, name, accepted, aliases)
        if target in said:
            raise InvalidParameterError(
                f"{owner}() got both {said[target]}= and {name}=, two names of one "
                f"parameter; pass only {target}="
            )
        said[target] = name
        out[target] = value
    return out


def one_of(owner: str, canonical: str, **values: Any) -> tuple[str, Any]:
    """The name and value of the one given among a parameter's names (``values``: name →
    value, None when not given) — ``(canonical, None)`` when none was; two different
    values raise `InvalidParameterError`. Errors about the value then use the user's name."""
    given = {name: value for name, value in values.items() if value is not None}
    if len({repr(v) for v in given.values()}) > 1:
        names = " and ".join(f"{n}=" for n in given)
        raise InvalidParameterError(
            f"{owner}() got {names}, two names of one parameter; pass only {canonical}="
        )
    return next(iter(given.items()), (canonical, None))


def accepted_keywords(init: Callable[..., Any], bases: Iterable[type] = ()) -> frozenset[str]:
    """The keyword names ``init`` takes; when it forwards ``**kwargs``, also those of the
    first ``__init__`` among ``bases`` (the MRO after the class) that names them."""
    names: set[str] = set()
    for fn in (init, *(getattr(b, "__init__", None) for b in bases)):
        if fn is None or fn is object.__init__:
            break
        params = inspect.signature(fn).parameters.values()
        names.update(
            p.name
            for p in params
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"
        )
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    return frozenset(names)


def strict_init(cls: type, init: _Init) -> _Init:
    """``init`` (``cls.__init__``) answering an unknown keyword with `unknown_keyword`
    before it runs, instead of a `TypeError` from deep in a base class."""
    accepted = accepted_keywords(init, cls.__mro__[1:])

    @functools.wraps(init)
    def checked(self: Any, *args: Any, **kwargs: Any) -> None:
        for name in kwargs:
            if name not in accepted:
                raise unknown_keyword(type(self).__name__, name, accepted)
        init(self, *args, **kwargs)

    return checked  # type: ignore[return-value]


def field_keywords(model: type) -> frozenset[str]:
    """The keyword names a pydantic model takes: its fields and their aliases."""
    names: set[str] = set()
    for name, field in getattr(model, "model_fields", {}).items():
        names.add(name)
        if isinstance(getattr(field, "alias", None), str):
            names.add(field.alias)
    return frozenset(names)


def model_keywords(
    model: type,
    given: Mapping[str, Any],
    aliases: Mapping[str, str],
    positional: tuple[str, Any] | None = None,
) -> dict[str, Any]:
    """`resolve_keywords` for a pydantic-based public class (fields and their aliases are
    accepted; ``aliases`` lists the other names users expect). ``positional``: the name and
    value of a positional argument (the model name), when one was given."""
    if positional is not None:
        name, value = positional
        target = aliases.get(name, name)
        if any(aliases.get(k, k) == target for k in given):
            raise InvalidParameterError(
                f"{model.__name__}() got {target} both by position and by keyword; pass it once"
            )
        given = {name: value, **given}
    return resolve_keywords(model.__name__, given, field_keywords(model), aliases)


_Class = TypeVar("_Class", bound=type)


def strict_keywords(cls: _Class) -> _Class:
    """Class decorator: `strict_init` on ``cls.__init__`` (for plain public classes)."""
    cls.__init__ = strict_init(cls, cls.__dict__["__init__"])  # type: ignore[misc]
    return cls
