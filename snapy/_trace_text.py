"""The call tree as indented text: what `TracedSnapshot` stores and `FunctionTracer.format()` shows.

    myapp.shop.checkout(cart=['apple', 'pear'], user='bob') -> 7
      myapp.shop.price(item='apple') -> 3
      myapp.shop.price(item='pear') -> 4
      myapp.pay.charge(amount=7, card=<redacted>) raised Declined('no funds')

The same trace gives the same text on every run, machine and Python version: no addresses,
times, thread ids or paths; threads other than the tracer's own come after it, in the order of
their text. syrupy's `exclude`, `include` and `matcher` see every traced value at a path made of
the qualnames of the calls from the root, then `args.<name>`, `return`, `yields.<i>` or
`exception`, then keys, indexes and attributes: `checkout.args.cart.0`, `checkout.price.return`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._trace_backends import ASYNC_GENERATOR, COROUTINE
from ._trace_build import CallNode
from ._trace_values import GeneratorResult, ObjectState, render

if TYPE_CHECKING:
    from ._trace import FunctionTracer

Path = tuple[tuple[Any, Any], ...]
Filter = Callable[..., bool]
_DROP = object()


class _Options:
    def __init__(
        self,
        tracer: FunctionTracer,
        exclude: Filter | None,
        include: Filter | None,
        matcher: Callable[..., Any] | None,
    ) -> None:
        self.limit = tracer.max_repr
        self.capture_args = tracer.capture_args
        self.capture_returns = tracer.capture_returns
        self.max_depth = tracer.max_depth
        self.exclude = exclude
        self.include = include
        self.matcher = matcher

    def keep(self, prop: Any, path: Path, include: bool = True) -> bool:
        if self.exclude is not None and self.exclude(prop=prop, path=path):
            return False
        return not (include and self.include is not None and not self.include(prop=prop, path=path))

    def value(self, value: Any, path: Path) -> Any:
        """`value` with the matcher applied and excluded parts left out, at `path`."""
        if self.matcher is not None:
            value = self.matcher(data=value, path=path)
        kind = type(value)
        if kind is dict:
            return {
                k: self.value(v, (*path, (k, type(v))))
                for k, v in value.items()
                if self.keep(k, path)
            }
        if kind is list or kind is tuple:
            items = [
                self.value(v, (*path, (i, type(v))))
                for i, v in enumerate(value)
                if self.keep(i, path)
            ]
            return kind(items)
        if kind is ObjectState:
            return ObjectState(value.type_name, self.value(value.fields, path))
        return value


def format_trace(
    tracer: FunctionTracer,
    *,
    exclude: Filter | None = None,
    include: Filter | None = None,
    matcher: Callable[..., Any] | None = None,
) -> str:
    """The text of `tracer`'s call tree (see the module docstring)."""
    options = _Options(tracer, exclude, include, matcher)
    sections: dict[int, list[str]] = {}
    for root in tracer.tree():
        _lines(root, 0, (), options, sections.setdefault(root.call.thread, []))
    own = "\n".join(sections.pop(0, []))
    others = sorted("\n".join(lines) for lines in sections.values())
    if others:
        parts = [_section(0, own)] if own else []
        parts += [_section(i, text) for i, text in enumerate(others, start=1 if own else 0)]
        text = "\n".join(parts)
    else:
        text = own or "(no calls recorded)"
    if tracer.truncated:
        text += f"\n... recording stopped at max_events={tracer.max_events}"
    return text


def _section(index: int, text: str) -> str:
    body = "\n".join("  " + line for line in text.splitlines())
    return f"thread {index}:\n{body}"


def _lines(root: CallNode, depth: int, path: Path, options: _Options, out: list[str]) -> None:
    """One line per call below `root`, depth first; a loop, not a recursion: a trace may be as
    deep as the recursion limit let the traced code go."""
    # (node, its depth, its caller's path), or (None, depth, text) for a max_depth line
    todo: list[tuple[CallNode | None, int, Any]] = [(root, depth, path)]
    while todo:
        node, depth, above = todo.pop()
        if node is None:
            out.append(above)
            continue
        call = node.call
        path = (*above, (call.qualname, CallNode))
        prefix = "async " if call.function_kind in (COROUTINE, ASYNC_GENERATOR) else ""
        if options.capture_args and call.arguments is not None:
            args_path = (*path, ("args", dict))
            args = options.value(call.arguments, args_path)
            shown = ", ".join(f"{k}={render(v, options.limit)}" for k, v in args.items())
        else:
            shown = "..."
        indent = "  " * depth
        out.append(f"{indent}{prefix}{call.name}({shown}){_outcome(node, path, options)}")
        if node.hidden:
            calls = "call" if node.hidden == 1 else "calls"
            line = f"{indent}  ... {node.hidden} {calls} below max_depth={options.max_depth}"
            todo.append((None, depth, line))
        todo.extend((child, depth + 1, path) for child in reversed(node.children))


def _outcome(node: CallNode, path: Path, options: _Options) -> str:
    end = node.end
    limit = options.limit
    if end is None:
        return " (unfinished)"
    if node.yielded is not None:
        result = end.value if isinstance(end.value, GeneratorResult) else None
        text = _yields(node.yielded, path, options)
        if (
            result is not None
            and result.returned is not None
            and options.keep("return", path, False)
        ):
            returned = options.value(result.returned, (*path, ("return", type(result.returned))))
            text += f", returns {render(returned, limit)}"
        if result is not None and not result.exhausted:
            text += " (not exhausted)"
        if end.kind == "exception":
            text += _raised(end.value, path, options)
        return text
    if end.kind == "exception":
        return _raised(end.value, path, options)
    if not options.capture_returns or not options.keep("return", path, include=False):
        return ""
    value = options.value(end.value, (*path, ("return", type(end.value))))
    return f" -> {render(value, limit)}"


def _yields(values: list[Any], path: Path, options: _Options) -> str:
    if not options.capture_returns:
        return f" -> yielded {len(values)} time{'' if len(values) == 1 else 's'}"
    if not options.keep("yields", path, include=False):
        return " -> yields ..."
    shown = options.value(list(values), (*path, ("yields", list)))
    return f" -> yields {render(shown, options.limit)}"


def _raised(exc: Any, path: Path, options: _Options) -> str:
    if not options.keep("exception", path, include=False):
        return " raised ..."
    value = options.value(exc, (*path, ("exception", type(exc))))
    return f" raised {render(value, options.limit)}"
