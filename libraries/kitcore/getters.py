"""One signature for every getter of the kit, written once: the :func:`getter` decorator.

A getter returns a value and can assert it in the same call, retrying until a timeout, as in
the Browser library::

    Get Session State    ${name}    ==    running    message=...    timeout=30s    poll=1s    as_user=bob

Its arguments always come in this order:

1. the subject: what to read (``name``; ``key``; ``statement`` ...), positional;
2. the common ones, :data:`COMMON`: ``assertion_operator``, ``assertion_expected``, ``message``,
   ``timeout``, ``poll`` (positional too, so the operator can follow the subject);
3. the library's options (``replica``, ``as_user``, ``alias`` ...), named only.

A getter is written with its subject and its options only; ``check`` receives the common
arguments as one :class:`Check`, which reads and asserts::

    @keyword("Get Session State", tags=["sessions", "assertion"])
    @getter
    def get_session_state(self, name: str, *, check: Check, replica: Any = None) -> str:
        return check(lambda: read_state(name, replica), f"State of session {name}")

Robot Framework, PythonLibCore and libdoc see the whole signature with its types: the
decorator sets ``__signature__`` and ``__annotations__`` (on the wrapper, and on every function it
wraps, which PythonLibCore unwraps to; those functions are only ever called by the wrappers; see
:func:`show_signature`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from kitcore.assertions import AssertionOperator, assert_value, get_and_assert
from kitcore.errors import KitError

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

COMMON = ("assertion_operator", "assertion_expected", "message", "timeout", "poll")
"""The parameters every getter takes right after its subject, in this order."""

CHECK = "check"

ASSERTIONS_DOC = """\
Getters return a value and can assert it in the same call. Their arguments come in one order in
every library of the kit: what to read, then ``assertion_operator``, ``assertion_expected``,
``message``, ``timeout``, ``poll``, then the library's options by name (``alias=``...):
| Get Thing | what | ``assertion_operator`` | ``assertion_expected`` | message=... | timeout=10s | poll=0.5s |

- ``assertion_operator``: an AssertionEngine operator: ``==``, ``!=``, ``<``, ``<=``, ``>``,
  ``>=``, ``contains``, ``not contains``, ``starts``, ``ends``, ``matches`` (a regular
  expression), ``validate`` (a Python expression on ``value``) or ``then`` (returns that
  expression's result); see `AssertionOperator`. Without one the getter only returns the value.
- ``assertion_expected``: the value to compare with; a number given as text is compared as a
  number when the value is one.
- ``message``: replaces the failure message. It may use ``{value}``, ``{value_type}``,
  ``{expected}`` and ``{expected_type}``; ``{{`` and ``}}`` stand for braces.
- ``timeout``: retry the assertion until it holds or this time (``10s``, ``1 min``) is out; on
  failure the message says how long it tried and what it last saw (only the last try is
  logged). Without one the value is read and asserted once.
- ``poll``: the pause between two tries (default 0.2 s).
"""


class Check(NamedTuple):
    """What a getter's caller asked for: the assertion and the wait (the arguments :data:`COMMON`); immutable
    (a named tuple, which a call builds faster than a frozen dataclass)."""

    operator: AssertionOperator | None = None
    expected: Any = None
    message: str | None = None
    timeout: str | float | None = None
    poll: str | float | None = None

    def __call__(self, read: Callable[[], T], what: str) -> T:
        """Read with ``read`` and assert the value (retrying until the timeout); ``what`` names the value
        in messages (``State of session alice-1``)."""
        if self.operator is None:  # what get_and_assert does then, without its call
            return read()
        if self.timeout is None and self.message is None:  # asserted once: the same, with two calls less
            return assert_value(read(), self.operator, self.expected, what)
        return get_and_assert(read, self.operator, self.expected, what, self.timeout, self.poll, self.message)


_OPERATORS: dict[str, AssertionOperator] = {**{str(o.value): o for o in AssertionOperator},
                                            **AssertionOperator.__members__}  # a name wins over a symbol


def as_operator(value: AssertionOperator | str | None) -> AssertionOperator | None:
    """An operator from its name or symbol; Robot Framework converts it itself, Python callers may pass ``"=="``."""
    if value is None or isinstance(value, AssertionOperator):
        return value
    known = _OPERATORS.get(value) if isinstance(value, str) else None
    if known is not None:
        return known
    text = str(value)
    if text in AssertionOperator.__members__:
        return AssertionOperator[text]
    try:
        return AssertionOperator(text)
    except ValueError:
        raise KitError(f"'{text}' is not an assertion operator",
                       fix="use one of: " + ", ".join(AssertionOperator.__members__)) from None


def _common(operator_required: bool, timeout: str | float | None,
            poll: str | float | None) -> list[inspect.Parameter]:
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    empty = inspect.Parameter.empty
    return [
        inspect.Parameter("assertion_operator", kind, default=empty if operator_required else None,
                          annotation=AssertionOperator if operator_required else AssertionOperator | None),
        inspect.Parameter("assertion_expected", kind, default=empty if operator_required else None,
                          annotation=Any),
        inspect.Parameter("message", kind, default=None, annotation=str | None),
        inspect.Parameter("timeout", kind, default=timeout, annotation=str | float | None),
        inspect.Parameter("poll", kind, default=poll, annotation=str | float | None),
    ]


def _combined(func: Callable[..., Any], operator_required: bool, timeout: str | float | None,
              poll: str | float | None) -> inspect.Signature:
    """The getter's public signature: its subject, :data:`COMMON`, its options (named only)."""
    name = getattr(func, "__qualname__", repr(func))
    signature = inspect.signature(func)
    params = list(signature.parameters.values())
    check = signature.parameters.get(CHECK)
    if check is None or check.kind is not inspect.Parameter.KEYWORD_ONLY:
        raise TypeError(f"getter {name} must take the named-only parameter `*, {CHECK}: Check`")
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY) for p in params):
        raise TypeError(f"getter {name} may not take *args, **kwargs or positional-only parameters")
    taken = sorted(set(COMMON) & set(signature.parameters))
    if taken:
        raise TypeError(f"getter {name} declares {', '.join(taken)} itself: the getter decorator adds them")
    subject = [p for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
    options = [p for p in params if p.kind is p.KEYWORD_ONLY and p.name != CHECK]
    return signature.replace(parameters=[*subject, *_common(operator_required, timeout, poll), *options])


def show_signature(wrapper: Callable[..., Any], signature: inspect.Signature, annotations: dict[str, Any]) -> None:
    """Give a decorated keyword its public ``signature`` and ``annotations``: on ``wrapper`` and on every
    function it wraps, since PythonLibCore unwraps to the innermost one, which must show the same (those
    functions are only ever called by the wrappers around them)."""
    target: Callable[..., Any] | None = wrapper
    while target is not None:
        target.__signature__ = signature  # type: ignore[attr-defined]
        target.__annotations__ = annotations
        target = getattr(target, "__wrapped__", None)


def getter(function: F | None = None, *, timeout: str | float | None = None, poll: str | float | None = None,
           operator_required: bool = False) -> Any:
    """Give a getter the common arguments (:data:`COMMON`) between its subject and its options.

    ``timeout``/``poll`` are the getter's defaults for the wait; ``operator_required=True`` makes
    ``assertion_operator`` and ``assertion_expected`` mandatory (for a keyword that always asserts).
    Use as ``@getter`` or ``@getter(timeout="30s")``, under ``@keyword``.
    """

    def decorate(func: F) -> F:
        signature = _combined(func, operator_required, timeout, poll)
        defaults = {name: signature.parameters[name].default for name in COMMON}
        parameters = signature.parameters.values()
        positional = [p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD]
        known = set(signature.parameters)
        required = {p.name for p in parameters if p.default is p.empty}
        op, expected, message, wait, poll_every = (defaults[name] for name in COMMON)
        # what a call that asks for no assertion and no wait gets (immutable, so calls can share it)
        default_check = None if operator_required else Check(as_operator(op), expected, message, wait, poll_every)
        subjects = len(positional) - len(COMMON)
        least = sum(1 for name in positional if name in required)  # the required ones come first
        most = len(positional)
        options = frozenset(known.difference(positional))
        required_options = frozenset(required.difference(positional))
        common_defaults = (op, expected, message, wait, poll_every)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            count = len(args)
            if least <= count <= most and options.issuperset(kwargs) and (
                    not required_options or required_options.issubset(kwargs)):
                # the subject and the common arguments by position, options by name: nothing to sort out
                if count <= subjects:
                    return func(*args, check=default_check, **kwargs)
                given = args[subjects:] + common_defaults[count - subjects:]
                return func(*args[:subjects], check=Check(as_operator(given[0]), *given[1:]), **kwargs)
            # what Signature.bind does, without its cost on every call; bind itself names a wrong call
            arguments = dict(zip(positional, args, strict=False))
            if kwargs and (not known.issuperset(kwargs) or not arguments.keys().isdisjoint(kwargs)):
                signature.bind(*args, **kwargs)  # raises the TypeError that names the wrong argument
            arguments.update(kwargs)
            if len(args) > len(positional) or not required.issubset(arguments):
                signature.bind(*args, **kwargs)  # the same: too many arguments, or one missing
            if default_check is not None and arguments.keys().isdisjoint(COMMON):
                return func(**arguments, check=default_check)
            pop = arguments.pop
            check = Check(as_operator(pop("assertion_operator", op)), pop("assertion_expected", expected),
                          pop("message", message), pop("timeout", wait), pop("poll", poll_every))
            return func(**arguments, check=check)

        annotations = {key: value for key, value in func.__annotations__.items() if key != CHECK}
        annotations.update({name: signature.parameters[name].annotation for name in COMMON})
        show_signature(wrapper, signature, annotations)
        return wrapper  # type: ignore[return-value]

    return decorate(function) if function is not None else decorate


def document_getters(intro: str) -> str:
    """A library's intro with :data:`ASSERTIONS_DOC` under its ``= Assertions =`` heading (a heading is added
    at the end when it has none): the arguments of getters are explained once per library."""
    heading = "= Assertions =\n"
    if heading not in intro:
        return f"{intro.rstrip()}\n\n{heading}{ASSERTIONS_DOC}"
    return intro.replace(heading, f"{heading}{ASSERTIONS_DOC}\n", 1)
