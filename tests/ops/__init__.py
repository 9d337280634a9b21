"""Operations: CLI, configuration, migrations, outbox, scheduler, faults, logs and metrics."""
