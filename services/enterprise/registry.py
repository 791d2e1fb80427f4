"""Look-up of enterprises by USCC in the enterprise credit registry, behind one small interface.

In production the adapter would ask the national enterprise credit registry; the default adapter
reads a data file of the repository (services/enterprise/data/registry.json, or a CSV with the
columns uscc,name,address,business_scope) so that development and tests need no network.

    ENTERPRISE_REGISTRY=file              (the default)
    ENTERPRISE_REGISTRY_FILE=/path.json   (default: the file in this package)
"""
import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from contracts.validators import uscc as check_uscc
from services.common.settings import setting

DEFAULT_FILE = Path(__file__).resolve().parent / "data" / "registry.json"


@dataclass(frozen=True)
class RegistryEntry:
    uscc: str
    name: str
    address: str
    business_scope: str

    def as_dict(self):
        return asdict(self)


class EnterpriseRegistry(Protocol):
    def lookup(self, uscc: str) -> RegistryEntry | None:
        """The registry's entry for a valid USCC, or None when it has none."""


class FileRegistry:
    """The registry as a JSON (`{"enterprises": [...]}` or a list) or CSV file, read once."""

    def __init__(self, path=DEFAULT_FILE):
        self.path = Path(path)
        self._entries = {entry.uscc: entry for entry in self._read()}

    def _read(self):
        if self.path.suffix.lower() == ".csv":
            with open(self.path, encoding="utf-8", newline="") as f:
                rows = list(csv.DictReader(f))
        else:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
            rows = data["enterprises"] if isinstance(data, dict) else data
        for i, row in enumerate(rows):
            try:
                code = check_uscc(row["uscc"])
            except ValueError as exc:  # a broken data file must not start a service that lies
                raise ValueError(f"{self.path}: entry {i} ({row.get('uscc')!r}): {exc}") from None
            yield RegistryEntry(code, row["name"].strip(), row["address"].strip(), row["business_scope"].strip())

    def __len__(self):
        return len(self._entries)

    def __iter__(self):
        return iter(self._entries.values())

    def lookup(self, uscc):
        return self._entries.get(uscc)


def registry_from_env() -> EnterpriseRegistry:
    kind = setting("ENTERPRISE_REGISTRY")
    if kind == "file":
        return FileRegistry(setting("ENTERPRISE_REGISTRY_FILE") or DEFAULT_FILE)
    raise ValueError(f"ENTERPRISE_REGISTRY={kind!r}: only 'file' is built in this repository")
