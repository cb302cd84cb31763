"""Reference PyG models used by the demo tasks and as oracles in tests."""
