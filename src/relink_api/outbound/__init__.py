"""Events for the host application: registered endpoints, a durable outbox, and the
workers that deliver it, signed per the Standard Webhooks specification."""
