"""E-mail: digests and urgent alerts, rendered into an outbox and delivered over SMTP."""
