"""Valid, unique national identifiers for tests: the generators `eport demo` uses too."""
from deploy.sample_identifiers import new_id_number, new_mobile, new_uscc

__all__ = ["new_id_number", "new_mobile", "new_uscc"]
