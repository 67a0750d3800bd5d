"""Pure SQL text builders, one module per dialect. No connections here."""
