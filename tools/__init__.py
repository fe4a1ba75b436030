"""Tools run beside Duban, never installed by the production settings (tools/bench: the benchmark)."""
