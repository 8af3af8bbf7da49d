"""Tests of the engine: validation, execution, the plugin host, docs and the schema."""
