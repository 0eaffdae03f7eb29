"""Developer scripts (the benchmark is importable as scripts.bench)."""
