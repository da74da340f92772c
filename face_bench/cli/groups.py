"""Option groups: a set of options declared once, applied to every command that takes it.

A group lists its options (each an ``...Opt`` type from ``cli.options``, a default and the
field of the group's frozen dataclass it fills). A command names the group as one
parameter typed by that dataclass and decorates itself with :func:`with_groups`::

    @with_groups(sampling=SAMPLE, embed=EMBED)
    def roc(sampling: SampleOptions, embed: EmbedOptions, out: OutOpt = None) -> None: ...

The decorator replaces each such parameter, in place, by the group's options, so Typer
sees ordinary options (``--help`` lists them where the parameter stood, in the group's
order), and on each call packs their values into the dataclass the command receives. It
runs once, when the command module is imported; nothing is rebuilt per call. This is
bob.measure's ``common_options`` and sqlite-utils' ``output_options`` in Typer's terms.

A command that takes part of a group, or other defaults, derives it: ``EMBED.without(
"engine", "ray_address")``, ``EMBED.defaults(align=LFW_ALIGN)``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def as_tuple(values: Iterable[Any] | None) -> tuple[Any, ...]:
    """A repeatable option's list (None when not given) as the dataclass's tuple."""
    return tuple(values or ())


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class GroupOption:
    """One option of a group: its parameter name, ``...Opt`` type, default and field."""

    name: str
    annotation: Any
    default: Any = None
    field: str = ""  # the dataclass field it fills; empty: the parameter's own name
    convert: Callable[[Any], Any] = _same  # the parsed value -> the field's value

    def parameter(self) -> inspect.Parameter:
        keyword, default = inspect.Parameter.KEYWORD_ONLY, self.default
        return inspect.Parameter(self.name, keyword, default=default, annotation=self.annotation)


class OptionGroup(Generic[T]):
    """Options that fill one frozen dataclass; see the module's docstring."""

    def __init__(self, kind: type[T], *options: GroupOption) -> None:
        self.kind = kind
        self.options = options

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.options)

    def without(self, *names: str) -> OptionGroup[T]:
        """The group less some options (their fields keep the dataclass's defaults)."""
        unknown = set(names) - set(self.names)
        if unknown:
            raise ValueError(f"not options of {self.kind.__name__}: {sorted(unknown)}")
        return OptionGroup(self.kind, *(o for o in self.options if o.name not in names))

    def defaults(self, **defaults: Any) -> OptionGroup[T]:
        """The group with other defaults for some options (as ``--help`` shows them)."""
        unknown = set(defaults) - set(self.names)
        if unknown:
            raise ValueError(f"not options of {self.kind.__name__}: {sorted(unknown)}")
        changed = (replace(o, default=defaults.get(o.name, o.default)) for o in self.options)
        return OptionGroup(self.kind, *changed)

    def build(self, values: dict[str, Any]) -> T:
        """The dataclass from the parsed values of this group's options (taken from ``values``)."""
        fields = {o.field or o.name: o.convert(values.pop(o.name)) for o in self.options}
        return self.kind(**fields)


def with_groups(**groups: OptionGroup[Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Expand each parameter named in ``groups`` into that group's options (see module doc)."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(func, eval_str=True)
        missing = set(groups) - set(signature.parameters)
        if missing:
            raise TypeError(f"{func.__name__} has no parameter {sorted(missing)}")
        parameters: list[inspect.Parameter] = []
        for parameter in signature.parameters.values():
            if parameter.name in groups:
                parameters += [o.parameter() for o in groups[parameter.name].options]
            else:
                parameters.append(parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY))
        names = [p.name for p in parameters]
        clashes = sorted({n for n in names if names.count(n) > 1})
        if clashes:
            raise TypeError(f"{func.__name__}: options named twice: {clashes}")

        @functools.wraps(func)
        def wrapper(**values: Any) -> Any:
            built = {name: group.build(values) for name, group in groups.items()}
            return func(**values, **built)

        # What Typer reads: the expanded options, their annotations already resolved.
        wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
        wrapper.option_groups = dict(groups)  # type: ignore[attr-defined]  # what it takes
        return wrapper

    return decorate
