"""Graph source, enumeration, subgraph sampler, sample codec and collation to PyG."""
