"""`eport`: the operators' and auditors' tool, speaking to the running platform over AMQP."""
