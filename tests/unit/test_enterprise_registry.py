"""The registry data file and its adapter."""
import json

import pytest

from contracts.validators import uscc
from services.enterprise.registry import DEFAULT_FILE, FileRegistry, registry_from_env

pytestmark = pytest.mark.unit


def test_data_file_holds_at_least_50_valid_distinct_enterprises():
    registry = FileRegistry()
    entries = list(registry)
    assert len(entries) >= 50
    assert len({e.uscc for e in entries}) == len(entries)
    for entry in entries:
        assert uscc(entry.uscc) == entry.uscc
        assert entry.name.endswith("公司") and entry.address and entry.business_scope


def test_the_manual_s_enterprise_is_there():
    entry = FileRegistry().lookup("913300007458363392")
    assert entry.name == "浙江电子口岸有限公司"
    assert entry.address == "杭州市上城区" and entry.business_scope == "信息服务"


def test_unknown_uscc_is_none():
    assert FileRegistry().lookup("91330000MA27XXXX0X") is None


def test_csv_and_a_configured_file(tmp_path, monkeypatch):
    path = tmp_path / "registry.csv"
    path.write_text("uscc,name,address,business_scope\n913300007458363392,某公司,某地,某业\n", encoding="utf-8")
    monkeypatch.setenv("ENTERPRISE_REGISTRY_FILE", str(path))
    registry = registry_from_env()
    assert len(registry) == 1 and registry.lookup("913300007458363392").name == "某公司"


def test_a_data_file_with_a_bad_uscc_is_refused(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([{"uscc": "913300007458363393", "name": "x", "address": "y",
                                 "business_scope": "z"}]), encoding="utf-8")
    with pytest.raises(ValueError, match="check character"):
        FileRegistry(path)
    assert DEFAULT_FILE.exists()
