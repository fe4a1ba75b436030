"""Cases: the engine that runs a transition in one transaction, flows, services, records beside cases, evidence, reads, the escalation ladder, who may act."""
