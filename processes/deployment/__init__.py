"""督办事项: work plans, leaders' instructions and meeting decisions, assigned, tracked and
re-dispatched level by level (issue 11). Built in steps: first the intake of work plans and
task tables (``intake``)."""
