"""The catalogue of the e-port's business systems (data/systems.json), in its published order."""
import json
from functools import lru_cache
from pathlib import Path

from .domain import UnknownSystem

DATA = Path(__file__).with_name("data") / "systems.json"


class Catalogue:
    def __init__(self, systems):
        self.systems = [dict(s) for s in systems]
        self.codes = tuple(s["code"] for s in self.systems)
        self._rank = {code: i for i, code in enumerate(self.codes)}
        self._names = {s["code"]: s["name"] for s in self.systems}
        if len(self._rank) != len(self.systems):
            raise ValueError(f"{DATA}: duplicate system codes")

    def __contains__(self, code):
        return code in self._rank

    def name(self, code):
        return self._names[code]

    def ordered(self, codes):
        """Known codes only, in catalogue order (a code withdrawn from the file drops out of views)."""
        return sorted((c for c in codes if c in self._rank), key=self._rank.__getitem__)

    def validate(self, codes):
        """The set of `codes`, or UnknownSystem naming the unknown ones."""
        if not isinstance(codes, (list, tuple, set, frozenset)) or not all(isinstance(c, str) for c in codes):
            raise UnknownSystem.of([repr(codes)])
        unknown = sorted({c for c in codes if c not in self._rank})
        if unknown:
            raise UnknownSystem.of(unknown)
        return set(codes)


@lru_cache(maxsize=1)
def catalogue():
    with open(DATA, encoding="utf-8") as f:
        return Catalogue(json.load(f)["systems"])
