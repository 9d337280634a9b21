"""Background work: the scheduler, its leadership and the outbox dispatcher."""
