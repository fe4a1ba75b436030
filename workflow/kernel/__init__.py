"""The case kernel: declarations and their binding, errors, the registry, units' settings, the working-day calendar, one-time form tokens."""
