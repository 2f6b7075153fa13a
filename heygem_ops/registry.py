"""Named factories with lazily imported built-ins: the one registry behind engines and face trackers.

A built-in is named by (module, attribute) and imported on first use, so a job never imports the
code (and the torch) of a backend it does not run; a third party adds its own with `register`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Generic, TypeVar

from heygem_ops.errors import InputError

F = TypeVar("F")


class LazyRegistry(Generic[F]):
    """Factories by name. `kind` names what they make, for the error that lists the valid names."""

    def __init__(self, kind: str, builtins: Mapping[str, tuple[str, str]]) -> None:
        self.kind = kind
        self._builtins = dict(builtins)
        self._factories: dict[str, F] = {}

    def register(self, name: str, factory: F) -> None:
        self._factories[name] = factory

    def unregister(self, name: str) -> None:
        self._factories.pop(name, None)

    def names(self) -> list[str]:
        return sorted(set(self._factories) | set(self._builtins))

    def find(self, name: str) -> F | None:
        """The factory of `name`, importing a built-in on first use; None when the name is unknown."""
        if name not in self._factories and name in self._builtins:
            module, attribute = self._builtins[name]
            self.register(name, getattr(importlib.import_module(module), attribute))
        return self._factories.get(name)

    def get(self, name: str) -> F:
        """The factory of `name`; an unknown name is an InputError listing the known ones."""
        factory = self.find(name)
        if factory is None:
            raise InputError(
                "unknown {kind} {name!r}",
                hint="choose one of: {choices}",
                kind=self.kind,
                name=name,
                choices=", ".join(self.names()),
            )
        return factory
