"""The variable catalogue: spec of the YAML files, loading, validation of values."""
