"""The runner: the scheduler thread, the executor's slots, hooks and leases of one process,
and the process and channel that put it beside an HTTP process."""
