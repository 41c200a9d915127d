"""Label matchers, as Alertmanager has them: ``=``, ``!=``, ``=~`` and ``!~``.

A regex matcher is anchored at both ends (``severity=~"crit|warn"`` matches
``crit`` but not ``critical``); a missing label matches as the empty string.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from messages import InvalidMessage
from messages.alerting import SilenceMatcher

__all__ = ["Matcher", "matches", "parse_matcher", "parse_matchers"]

Op = Literal["=", "!=", "=~", "!~"]
_SYNTAX: Final = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$', re.S)


@dataclass(frozen=True)
class Matcher:
    """One condition on one label.

    Attributes:
        name: the label.
        op: ``=``, ``!=``, ``=~`` or ``!~``.
        value: the string, or the regex (anchored when matching).
    """

    name: str
    op: Op
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def make(cls, name: str, op: Op, value: str, where: str = "matcher") -> Matcher:
        """Build a matcher, compiling its regex.

        Raises:
            InvalidMessage: the regex does not compile.
        """
        regex = None
        if op in ("=~", "!~"):
            try:
                regex = re.compile(f"^(?:{value})$", re.S)
            except re.error as exc:
                raise InvalidMessage(where, value, f"not a valid regex: {exc}") from None
        return cls(name, op, value, regex)

    @classmethod
    def from_silence(cls, spec: SilenceMatcher, where: str = "matcher") -> Matcher:
        """The matcher an Alertmanager v2 silence matcher describes."""
        op: Op = ("=~" if spec.is_equal else "!~") if spec.is_regex else ("=" if spec.is_equal else "!=")
        return cls.make(spec.name, op, spec.value, where)

    def to_silence(self) -> SilenceMatcher:
        """Alertmanager's v2 form of this matcher."""
        return SilenceMatcher(
            name=self.name, value=self.value, is_regex=self.op in ("=~", "!~"),
            is_equal=self.op in ("=", "=~"),
        )

    def __call__(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this matcher."""
        value = labels.get(self.name, "")
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        assert self._regex is not None
        found = self._regex.match(value) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'


def parse_matcher(text: str, where: str = "matcher") -> Matcher:
    """Parse ``name<op>value``; the value may be in double quotes.

    Example:
        >>> parse_matcher('severity=~"critical|warning"')({"severity": "warning"})
        True

    Raises:
        InvalidMessage: naming ``where``, the text and what was expected.
    """
    if not isinstance(text, str):
        raise InvalidMessage(where, text, 'must be a string such as "severity=~critical|warning"')
    found = _SYNTAX.match(text)
    if found is None:
        raise InvalidMessage(
            where, text, 'expected label<op>value with op one of = != =~ !~ (e.g. "severity=critical")'
        )
    name, op, value = found.groups()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].replace('\\"', '"')
    return Matcher.make(name, op, value, where)  # type: ignore[arg-type]


def parse_matchers(texts: Iterable[str], where: str = "matchers") -> tuple[Matcher, ...]:
    """Parse each string (``where[i]`` in errors)."""
    return tuple(parse_matcher(text, f"{where}[{i}]") for i, text in enumerate(texts))


def matches(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """Whether every matcher holds (no matchers: True)."""
    return all(m(labels) for m in matchers)
