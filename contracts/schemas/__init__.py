"""JSON Schemas that ship with the platform (package data): personal-data-export.json, the answer of
POST /api/v1/me/export (contracts/personal_data.py)."""
